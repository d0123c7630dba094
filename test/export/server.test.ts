import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { HostSample, SampleSource } from '../../src/attach/sample.ts';
import { EnvironmentError } from '../../src/errors.ts';
import { BUSY, ExpositionCollector } from '../../src/tools/export/collector.ts';
import { startExportServer } from '../../src/tools/export/server.ts';
import { counter, ScriptedSource, sample, vm } from '../top/fixtures/samples.ts';
import { decodeDelimited } from './proto-reader.ts';
import { parseText } from './text-parser.ts';

const LOOPBACK = { kind: 'tcp', host: '127.0.0.1', port: 0 } as const;

function script(n: number): HostSample {
  return sample(n, [vm({ key: 'k1', name: 'one', vcpus: [[counter('exits', BigInt(100 * (n + 1)))]] })]);
}

async function withServer(
  source: SampleSource,
  options: ConstructorParameters<typeof ExpositionCollector>[1],
  body: (url: string, c: ExpositionCollector) => Promise<void>,
) {
  const collector = new ExpositionCollector(source, options);
  const server = await startExportServer(collector, LOOPBACK);
  try {
    await body(server.url, collector);
  } finally {
    await server.close();
    collector.close();
  }
}

test('GET /metrics: text by default, OpenMetrics and protobuf by Accept, each with its content type', async () => {
  await withServer(new ScriptedSource(script), { shareMs: 0 }, async (url) => {
    const text = await fetch(url);
    assert.equal(text.status, 200);
    assert.equal(text.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const parsed = parseText(await text.text(), false);
    assert.equal(parsed.type.get('hvkit_kvm_vcpu_exits_total'), 'counter');
    assert.equal(parsed.samples.find((s) => s.name === 'hvkit_kvm_vcpu_exits_total')!.value, '100');
    assert.equal(parsed.samples.find((s) => s.name === 'hvkit_export_scrapes_total')!.value, '1');

    const om = await fetch(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
    assert.match(om.headers.get('content-type')!, /^application\/openmetrics-text; version=1.0.0/);
    assert.ok(parseText(await om.text(), true).eof);

    const pb = await fetch(url, {
      headers: { accept: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited' },
    });
    assert.match(
      pb.headers.get('content-type')!,
      /^application\/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited/,
    );
    const families = decodeDelimited(new Uint8Array(await pb.arrayBuffer()));
    assert.equal(families.find((f) => f.name === 'hvkit_kvm_vcpu_exits_total')!.metrics[0]!.counter, 300);
  });
});

test('concurrent scrapes share one host sample', async () => {
  const source = new ScriptedSource(script);
  await withServer(source, { shareMs: 60_000 }, async (url) => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(url).then((r) => r.text())));
    assert.equal(source.taken, 1);
    assert.equal(new Set(answers).size, 1, 'the same collection, encoded once');
  });
});

test('past --max-waiting a scrape is refused: BUSY from the collector, 503 from the server', async () => {
  const c = new ExpositionCollector(new ScriptedSource(script), { maxWaiting: 2 });
  const first = c.collect();
  const second = c.collect();
  assert.equal(c.collect(), BUSY);
  assert.equal(c.waiting, 2);
  assert.notEqual(first, BUSY);
  assert.equal(await first, await second);
  assert.equal(c.stats.rejected, 1n);
  await withServer(new ScriptedSource(script), { maxWaiting: 0 }, async (url) => {
    const r = await fetch(url);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(await r.text(), /too many scrapes are waiting/);
  });
});

test('a failed host sample answers 503 with the reason and is counted; the next scrape works', async () => {
  let fail = true;
  const source: SampleSource = {
    sample() {
      if (fail) {
        fail = false;
        throw new EnvironmentError('/dev/shm is not readable');
      }
      return script(0);
    },
    close() {},
  };
  await withServer(source, { shareMs: 0 }, async (url) => {
    const r = await fetch(url);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /host sample failed: \/dev\/shm is not readable/);
    const ok = parseText(await (await fetch(url)).text(), false);
    assert.equal(ok.samples.find((s) => s.name === 'hvkit_export_sample_errors_total')!.value, '1');
  });
});

test('HEAD, other paths and other methods', async () => {
  await withServer(new ScriptedSource(script), {}, async (url) => {
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 0);
    assert.equal((await fetch(url.replace('/metrics', '/nope'))).status, 404);
    const post = await fetch(url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

test('a taken port is an environment error naming the address', async () => {
  await withServer(new ScriptedSource(script), {}, async (url) => {
    const port = Number(new URL(url).port);
    const c = new ExpositionCollector(new ScriptedSource(script));
    await assert.rejects(startExportServer(c, { ...LOOPBACK, port }), (e: unknown) => {
      assert.ok(e instanceof EnvironmentError);
      assert.match(e.message, new RegExp(`--listen 127.0.0.1:${port}`));
      return true;
    });
  });
});

test('hvkit export: a bad --listen or --max-series is a usage error (exit 2, one line)', () => {
  for (const args of [
    ['--listen', 'nonsense'],
    ['--listen', '/tmp/x.sock'],
    ['--max-series', '-1'],
  ]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/ctl/hvkit-entry.ts', 'export', ...args], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^hvkit: .*\n$/);
  }
});
