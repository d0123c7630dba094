/**
 * The web view's JSON API and SSE stream over a real export endpoint (node:http on loopback),
 * fed by scripted samples through the export collector: numbers are top's, one host sample per
 * collection feeds both /metrics and the view, domid reuse is marked, hostile paths are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { runAbiCheck } from '../../src/abi/check.ts';
import { generateMarkdownFor } from '../../src/abi/gen-md.ts';
import { listAbis, loadAbi } from '../../src/abi/registry.ts';
import type { HostSample } from '../../src/attach/sample.ts';
import { ExpositionCollector } from '../../src/tools/export/collector.ts';
import { startExportServer } from '../../src/tools/export/server.ts';
import { TopTracker } from '../../src/tools/top/frame.ts';
import { MAX_BUFFERED_BYTES, MAX_STREAMS } from '../../src/tools/web/api.ts';
import { startWebView, type WebView } from '../../src/tools/web/view.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { counter, event, log2Hist, ScriptedSource, sample, vm } from '../top/fixtures/samples.ts';

const LOOPBACK = { kind: 'tcp', host: '127.0.0.1', port: 0 } as const;
const HOUR = 3_600_000;

function script(n: number): HostSample {
  const one = vm({
    key: 'k1',
    name: 'one',
    pid: 42,
    domid: 1,
    uniqueId: 0xabcn,
    vcpus: [
      [
        counter('exits', BigInt(100 * (n + 1))),
        counter('halt_exits', BigInt(10 * (n + 1))),
        counter('io_exits', BigInt(3 * (n + 1))),
        log2Hist('vmm.exit_latency_hist', [0n, BigInt(n), BigInt(4 * n), 1n]),
      ],
      [counter('exits', BigInt(50 * (n + 1))), counter('halt_exits', BigInt(5 * (n + 1)))],
    ],
  });
  // From the third sample on, domid 2 is another domain (a new unique id under the same domid).
  const two =
    n < 2
      ? vm({ key: 'k2', name: 'two', domid: 2, uniqueId: 1n, vcpus: [[counter('exits', BigInt(n))]] })
      : vm({ key: 'k3', name: 'two', domid: 2, uniqueId: 2n, vcpus: [[counter('exits', BigInt(n))]] });
  const events = n === 2 ? [event('domid-reused', 'k3', 'domid 2 reused: unique id 1 → 2')] : [];
  return sample(n, [one, two], events);
}

async function withWeb(
  body: (origin: string, collector: ExpositionCollector, source: ScriptedSource, web: WebView) => Promise<void>,
) {
  const source = new ScriptedSource(script);
  const collector = new ExpositionCollector(source, { shareMs: 0 });
  const web = startWebView(collector, { intervalMs: HOUR });
  const server = await startExportServer(collector, LOOPBACK, web.routes);
  try {
    await body(server.origin, collector, source, web);
  } finally {
    web.close();
    await server.close();
    collector.close();
  }
}

async function getJson(url: string) {
  const r = await fetch(url);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Waits until the view has taken `n` samples (the first tick runs on the next turn). */
async function untilSeq(origin: string, n: number) {
  for (;;) {
    const { body } = await getJson(`${origin}api/vms`);
    if ((body.seq as number) >= n) return body;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('GET /api/vms: every VM with identity and the same rates top computes', async () => {
  await withWeb(async (origin, collector) => {
    await untilSeq(origin, 1);
    collector.collectNow();
    const body = await untilSeq(origin, 2);
    const vms = body.vms as Record<string, unknown>[];
    assert.deepEqual(
      vms.map((v) => [v.key, v.name, v.pid, v.domid, v.uniqueId]),
      [
        ['k1', 'one', 42, 1, '2748'],
        ['k2', 'two', 100, 2, '1'],
      ],
    );
    // top over the same two samples
    const tracker = new TopTracker();
    tracker.push(script(0));
    const frame = tracker.push(script(1));
    const one = vms[0]!;
    assert.deepEqual(one.rates, frame.vms[0]!.metrics.rates);
    assert.equal(one.exitsTotal, String(frame.vms[0]!.metrics.exitsTotal));
    assert.deepEqual(
      (one.vcpus as { rates: unknown }[]).map((v) => v.rates),
      frame.vms[0]!.vcpus.map((v) => v.metrics.rates),
    );
    assert.equal((one.rates as Record<string, number>).exits, 150);
  });
});

test('GET /api/vms/<key>: points with exits by reason, per-vCPU rates and heatmap columns', async () => {
  await withWeb(async (origin, collector) => {
    await untilSeq(origin, 1);
    collector.collectNow();
    collector.collectNow();
    await untilSeq(origin, 3);
    const { status, body } = await getJson(`${origin}api/vms/k1`);
    assert.equal(status, 200);
    const points = body.points as {
      rates: Record<string, number>;
      reasons: Record<string, number>;
      vcpus: { index: number; rates: Record<string, number> }[];
      histograms: Record<string, { buckets: number[]; p50: number; p99: number }>;
    }[];
    assert.equal(points.length, 2, 'one point per interval');
    assert.deepEqual(points[1]!.reasons, { halt_exits: 15, io_exits: 3 });
    assert.deepEqual(
      points[1]!.vcpus.map((v) => v.rates.exits),
      [100, 50],
    );
    const heat = points[1]!.histograms['vmm.exit_latency_hist']!;
    assert.deepEqual(heat.buckets, [0, 1, 4, 0]);
    assert.equal(heat.p50, 2);
    assert.equal(heat.p99, 2);
    const shapes = body.histograms as { name: string; kind: string; labels: string[] }[];
    assert.equal(shapes[0]!.name, 'vmm.exit_latency_hist');
    assert.equal(shapes[0]!.kind, 'log2');
    assert.equal(shapes[0]!.labels.length, 4);
  });
});

test('a domid reused by another domain is marked on the new VM and in /api/events', async () => {
  await withWeb(async (origin, collector) => {
    await untilSeq(origin, 1);
    collector.collectNow();
    collector.collectNow();
    const body = await untilSeq(origin, 3);
    const vms = body.vms as { key: string; domidReused: boolean }[];
    assert.deepEqual(
      vms.map((v) => [v.key, v.domidReused]),
      [
        ['k1', false],
        ['k3', true],
      ],
    );
    const events = (await getJson(`${origin}api/events`)).body.events as { kind: string; vmKey: string }[];
    assert.deepEqual(
      events.map((e) => [e.kind, e.vmKey]),
      [['domid-reused', 'k3']],
    );
    assert.equal((await getJson(`${origin}api/vms/k2`)).status, 404, 'the gone VM has no drill-down');
  });
});

test('one host sample per collection feeds both /metrics and the view', async () => {
  await withWeb(async (origin, _collector, source) => {
    await untilSeq(origin, 1);
    const taken = source.taken;
    const metrics = await fetch(`${origin}metrics`);
    assert.equal(metrics.status, 200);
    await metrics.text();
    const body = await untilSeq(origin, 2);
    assert.equal(source.taken, taken + 1);
    assert.equal(body.seq, 2, 'the scrape’s sample reached the view');
  });
});

test('GET /api/events/stream: the latest sample at once, then one message per sample', async () => {
  await withWeb(async (origin, collector) => {
    await untilSeq(origin, 1);
    const controller = new AbortController();
    const r = await fetch(`${origin}api/events/stream`, { signal: controller.signal });
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = r.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const messages = () => text.split('\n\n').filter((m) => m.startsWith('event: sample'));
    while (messages().length < 1) text += decoder.decode((await reader.read()).value);
    collector.collectNow();
    while (messages().length < 2) text += decoder.decode((await reader.read()).value);
    const seqs = messages().map((m) => (JSON.parse(m.split('data: ')[1]!) as { seq: number }).seq);
    assert.deepEqual(seqs, [1, 2]);
    controller.abort();
  });
});

test('the page and its assets are served by hvkit; unknown paths are 404', async () => {
  await withWeb(async (origin) => {
    const page = await fetch(origin);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no asset from the network');
    for (const asset of ['assets/app.js', 'assets/app.css', 'assets/uPlot.iife.min.js', 'assets/uPlot.min.css']) {
      assert.equal((await fetch(origin + asset)).status, 200, asset);
    }
    assert.equal((await fetch(`${origin}assets/../package.json`)).status, 404);
    assert.equal((await fetch(`${origin}api/nope`)).status, 404);
    assert.equal((await fetch(`${origin}metrics`)).status, 200);
  });
});

test('hostile VM keys and paths: 400 or 404, never a crash', async () => {
  await withWeb(async (origin) => {
    await untilSeq(origin, 1);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), async (raw) => {
        const r = await fetch(`${origin}api/vms/${raw.replace(/[#?]/g, '')}`);
        assert.ok([200, 400, 404].includes(r.status), `status ${r.status}`);
        await r.arrayBuffer();
      }),
      { numRuns: 100 },
    );
    assert.equal((await fetch(`${origin}api/vms/%E0%A4%A`)).status, 400);
    assert.equal((await fetch(`${origin}__proto__`)).status, 404);
  });
});

test('GET /api/abis…: every ABI with its frozen revisions, abi check’s verdict and the generated docs', async () => {
  await withWeb(async (origin) => {
    const names = await listAbis();
    const list = (await getJson(`${origin}api/abis`)).body.abis as {
      name: string;
      revisions: { revision: number }[];
      check: { errors: number; warnings: number; lines: string[] };
    }[];
    assert.deepEqual(
      list.map((a) => a.name),
      names,
    );
    for (const abi of list) {
      const check = await runAbiCheck([abi.name]);
      assert.deepEqual(abi.check.lines, check.lines, abi.name);
      assert.equal(abi.check.errors, check.errors);
      const revisions = (await loadAbi(abi.name)).revisions.map((r) => r.revision);
      assert.deepEqual(
        abi.revisions.map((r) => r.revision),
        revisions,
      );
    }
    const one = (await getJson(`${origin}api/abis/stats-table`)).body as { markdown: string };
    assert.equal(one.markdown, await generateMarkdownFor('stats-table'));
    const lock = (await getJson(`${origin}api/abis/stats-table/revisions/1`)).body;
    assert.deepEqual(lock, JSON.parse(readFileSync('schemas/stats-table/revisions/rev-1.lock.json', 'utf8')));
    for (const bad of [
      'nope',
      '..',
      '%2e%2e',
      'stats-table/revisions/0',
      'stats-table/revisions/999',
      'stats-table/x',
    ]) {
      assert.equal((await getJson(`${origin}api/abis/${bad}`)).status, 404, bad);
    }
  });
});

test('event streams are bounded: one past MAX_STREAMS gets 503, a closed one frees its place', async () => {
  await withWeb(async (origin) => {
    await untilSeq(origin, 1);
    const controllers = Array.from({ length: MAX_STREAMS }, () => new AbortController());
    const open = await Promise.all(controllers.map((c) => fetch(`${origin}api/events/stream`, { signal: c.signal })));
    assert.ok(open.every((r) => r.status === 200));
    const refused = await fetch(`${origin}api/events/stream`);
    assert.equal(refused.status, 503);
    await refused.arrayBuffer();
    controllers[0]!.abort();
    for (;;) {
      const again = await fetch(`${origin}api/events/stream`);
      if (again.status === 200) {
        await again.body!.cancel();
        break;
      }
      await again.arrayBuffer();
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of controllers) c.abort();
  });
});

test('a stream whose client stops reading is cut once MAX_BUFFERED_BYTES wait, not buffered forever', async () => {
  await withWeb(async (origin, collector, _source, web) => {
    await untilSeq(origin, 1);
    const { hostname, port } = new URL(origin);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /api/events/stream HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
    socket.pause(); // never reads: the server's writes pile up
    try {
      while (web.streams.count === 0) await new Promise((r) => setTimeout(r, 5));
      const deadline = Date.now() + hangDeadline(60_000);
      while (web.streams.count > 0 && Date.now() < deadline) {
        for (let i = 0; i < 200; i++) collector.collectNow();
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(web.streams.count, 0, `the server cut the stream (more than ${MAX_BUFFERED_BYTES} bytes waited)`);
    } finally {
      socket.destroy();
    }
  });
});

test('the view samples only while someone looks: an open page each interval, an API request when stale, else never', async () => {
  const INTERVAL = 40;
  const source = new ScriptedSource(script);
  const collector = new ExpositionCollector(source, { shareMs: 0 });
  const web = startWebView(collector, { intervalMs: INTERVAL });
  const server = await startExportServer(collector, LOOPBACK, web.routes);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await pause(INTERVAL * 8);
    assert.equal(source.taken, 0, 'nobody looking: not one host sample');
    // An API request finds a sample no older than the interval: it waits for one when needed…
    const first = await getJson(`${server.origin}api/vms`);
    assert.equal(first.body.seq, 1);
    assert.equal(source.taken, 1);
    // …and answers from it while it is fresh.
    const again = await getJson(`${server.origin}api/vms`);
    if (Date.now() - (again.body.t as number) < INTERVAL) assert.equal(source.taken, 1);
    // An open event stream (a page) keeps the view sampling every interval…
    const stream = new AbortController();
    const response = await fetch(`${server.origin}api/events/stream`, { signal: stream.signal });
    const reader = response.body!.getReader();
    const before = source.taken;
    const deadline = Date.now() + hangDeadline(10_000);
    while (source.taken < before + 4) {
      assert.ok(Date.now() < deadline, `the stream's page got ${source.taken - before} samples`);
      await reader.read();
    }
    // …and once it is gone, sampling stops.
    stream.abort();
    await reader.cancel().catch(() => {});
    await pause(INTERVAL * 2);
    const after = source.taken;
    await pause(INTERVAL * 8);
    assert.equal(source.taken, after, 'the page left: no more host samples');
  } finally {
    web.close();
    await server.close();
    collector.close();
  }
});
