/**
 * The real thing: Debian's Prometheus (installed by .ci/run) scrapes `hvkit export` over an hvkit
 * host (the simulated backend in prometheus.test.ts, real KVM in prometheus.kvm.test.ts — there
 * the kernel's stats fds too) of several domains with native histograms on (so it asks for protobuf), and what its HTTP API
 * answers is checked against an attach session of this test reading the same host:
 * - every family exists with the right type (metadata) and the VM identity labels;
 * - each scraped counter value lies between what our reader saw just before and just after the
 *   scrape, and rate() differs from our reader's rate over the same scrapes by at most what can
 *   change within one scrape interval at either end;
 * - with the domains paused (frozen counters), values equal our reader's exactly and
 *   histogram_quantile over the native histograms falls in the bucket hvkit's percentile names;
 * - `promtool check metrics` accepts the text output (its only lint remarks are the nanosecond
 *   histograms the unit decision asks for).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatSample } from '../../src/attach/sample.ts';
import { AttachSession } from '../../src/attach/session.ts';
import { percentile } from '../../src/stats/histogram.ts';
import { ctl, type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline, slowdown } from '../support/slowdown.ts';

// Under an emulated CPU (the KVM lane) one scrape of KVM domains can take longer than a second:
// the scrape interval (and with it every window) widens, what is asserted does not change.
const SCRAPE_SECONDS = slowdown() > 1 ? 3 : 1;
const WINDOW = `${8 * SCRAPE_SECONDS}s`;
const have = (cmd: string) => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status === 0;
const skip =
  have('prometheus') && have('promtool')
    ? false
    : "missing tool: prometheus/promtool (.ci/run installs them from Debian's packages); the run fails";

let host: Started;
let exporter: ChildProcess;
let exporterUrl: string;
let prometheus: ChildProcess;
let api: string;
let dir: string;
let reader: AttachSession;
/** Our own reader's samples: wall time and every stat by series key. */
const seen: { at: number; stats: Map<string, StatSample> }[] = [];
let sampling: NodeJS.Timeout | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Series key as the exporter labels it: vm name, vcpu ('' for VM-level) and the stat name. */
function readOnce(): void {
  const at = Date.now();
  const stats = new Map<string, StatSample>();
  for (const v of reader.sample().vms) {
    for (const s of v.vm) stats.set(`${v.name}||${s.name}`, s);
    for (const c of v.vcpus) for (const s of c.stats) stats.set(`${v.name}|${c.index}|${s.name}`, s);
  }
  seen.push({ at, stats });
}

async function query(
  q: string,
  time?: number,
): Promise<
  {
    metric: Record<string, string>;
    value?: [number, string];
    values?: [number, string][];
    histogram?: [number, NativeHist];
  }[]
> {
  const params = new URLSearchParams({ query: q });
  if (time !== undefined) params.set('time', String(time / 1000));
  const r = await fetch(`${api}/api/v1/query?${params}`);
  const body = (await r.json()) as { status: string; data: { result: never[] }; error?: string };
  assert.equal(body.status, 'success', `${q}: ${body.error}`);
  return body.data.result;
}

interface NativeHist {
  count: string;
  sum: string;
  buckets?: [number, string, string, string][];
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + hangDeadline(ms);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Counters checked against our reader: the exported family and the stat it comes from. */
function checkedCounters(backend: 'sim' | 'kvm'): { family: string; stat: string }[] {
  const vmm = { family: 'hvkit_vmm_vcpu_exits_exits_total', stat: 'exits.exits_total' };
  return backend === 'kvm' ? [vmm, { family: 'hvkit_kvm_vcpu_exits_total', stat: 'exits' }] : [vmm];
}

export function registerPrometheusTests(backend: 'sim' | 'kvm'): void {
  before(async () => {
    if (skip) return;
    host = await startHost({ HVKIT_BACKEND: backend }, ['--domains', '3', '--vcpus', '2']);
    reader = new AttachSession({ pids: [host.pid] });
    dir = mkdtempSync(join(tmpdir(), 'hvkit-prom-'));
    exporter = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/ctl/hvkit-entry.ts', 'export', '--listen', '127.0.0.1:0', '--pid', String(host.pid)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: exporter.stdout! }).once('line', resolve);
      exporter.once('exit', (code) => reject(new Error(`hvkit export exited with ${code}`)));
    });
    exporterUrl = line.replace(/^hvkit export: serving /, '');
    const target = new URL(exporterUrl).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: ${SCRAPE_SECONDS}s\n  scrape_timeout: ${SCRAPE_SECONDS}s\nscrape_configs:\n  - job_name: hvkit\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--enable-feature=native-histograms',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prometheus.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    sampling = setInterval(readOnce, 100);
    await waitFor(
      `Prometheus to scrape hvkit export (log: ${log})`,
      async () => {
        const r = await fetch(`${api}/-/ready`).catch(() => undefined);
        if (!r?.ok) return false;
        const up = await query('up{job="hvkit"}');
        return up.length === 1 && up[0]!.value![1] === '1';
      },
      60_000,
    );
  });

  after(async () => {
    if (skip) return;
    clearInterval(sampling);
    prometheus?.kill('SIGTERM');
    exporter?.kill('SIGTERM');
    await Promise.all([
      new Promise((r) => (prometheus.exitCode !== null ? r(0) : prometheus.once('exit', r))),
      new Promise((r) => (exporter.exitCode !== null ? r(0) : exporter.once('exit', r))),
    ]);
    reader?.close();
    if (host) await stopHost(host);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ourLabels = () => `pid="${host.pid}"`;

  test('the families exist in Prometheus with their types and the VM identity labels', { skip }, async () => {
    await waitFor(
      '8 scrapes',
      async () => Number((await query(`count_over_time(up{job="hvkit"}[1m])`))[0]?.value?.[1] ?? 0) >= 8,
      60_000,
    );
    const meta = (await (await fetch(`${api}/api/v1/metadata`)).json()) as { data: Record<string, { type: string }[]> };
    const type = (name: string) => meta.data[name]?.[0]?.type;
    assert.equal(type('hvkit_vmm_vcpu_exits_exits_total'), 'counter');
    assert.equal(type('hvkit_vmm_vm_sched_cpu_time_seconds_total'), 'counter');
    assert.equal(type('hvkit_vmm_vm_sched_vcpus_running'), 'gauge');
    assert.equal(type('hvkit_vmm_vcpu_io_io_latency_hist_nanoseconds'), 'histogram');
    assert.equal(type('hvkit_export_collection_duration_nanoseconds'), 'histogram');
    if (backend === 'kvm') {
      assert.equal(type('hvkit_kvm_vcpu_exits_total'), 'counter');
      assert.equal(type('hvkit_kvm_vcpu_halt_wait_hist_nanoseconds'), 'histogram');
      assert.equal(type('hvkit_kvm_vm_remote_tlb_flush_total'), 'counter');
      const waits = await query(`hvkit_kvm_vcpu_halt_wait_hist_nanoseconds{${ourLabels()}}`);
      assert.equal(waits.length, 3 * 2, 'the kernel histogram of every vCPU');
      assert.ok(
        waits.every((h) => h.histogram !== undefined),
        "the kernel's log2 histograms stored as native histograms",
      );
    }
    const exits = await query(`hvkit_vmm_vcpu_exits_exits_total{${ourLabels()}}`);
    assert.equal(exits.length, 3 * 2, 'one series per vCPU of the three domains');
    for (const r of exits) {
      assert.match(r.metric.vm!, /^dom[123]$/);
      assert.match(r.metric.vm_key!, /^hvkit:[0-9a-f]{16}$/);
      assert.equal(r.metric.vm_key, `hvkit:${r.metric.unique_id}`);
      assert.match(r.metric.domid!, /^[123]$/);
      assert.match(r.metric.vcpu!, /^[01]$/);
    }
    const hist = await query(`hvkit_vmm_vcpu_io_io_latency_hist_nanoseconds{${ourLabels()}}`);
    assert.equal(hist.length, 6);
    assert.ok(
      hist.every((h) => h.histogram !== undefined),
      'stored as native histograms',
    );
  });

  /** Our reader's last sample at or before `ms`, and its first at or after. */
  function bracket(ms: number): [Map<string, StatSample>, Map<string, StatSample>] {
    let lo = seen[0]!;
    let hi = seen.at(-1)!;
    for (const s of seen) {
      if (s.at <= ms) lo = s;
      if (s.at >= ms) {
        hi = s;
        break;
      }
    }
    return [lo.stats, hi.stats];
  }

  test('scraped values lie between our reader just before and after each scrape; rate() agrees within one interval', {
    skip,
  }, async () => {
    const now = Date.now();
    const counters = checkedCounters(backend);
    const rowsOf = await Promise.all(counters.map((c) => query(`${c.family}{${ourLabels()}}[${WINDOW}]`, now)));
    const ratesOf = await Promise.all(counters.map((c) => query(`rate(${c.family}{${ourLabels()}}[${WINDOW}])`, now)));
    // Our reader's samples after the last scrape (it may have been answered up to one interval later).
    await sleep(SCRAPE_SECONDS * 1000 + 500);
    for (const [i, { stat }] of counters.entries()) {
      const rows = rowsOf[i]!;
      const rates = ratesOf[i]!;
      assert.equal(rows.length, 6);
      for (const row of rows) {
        const key = `${row.metric.vm}|${row.metric.vcpu}|${stat}`;
        const values = row.values!.map(([t, v]) => [t * 1000, Number(v)] as const);
        assert.ok(values.length >= 5, `${values.length} scrapes in ${WINDOW}`);
        // A scrape at t reads a collection made in [t − 100 ms (shared), t + one interval].
        const slack = (t: number) => bracket(t - 150).map((m) => Number(m.get(key)!.value!)) as [number, number];
        const within = (t: number) => [slack(t)[0], bracket(t + SCRAPE_SECONDS * 1000)[1].get(key)!.value!] as const;
        for (const [t, v] of values) {
          const [lo, hi] = within(t);
          assert.ok(lo <= v && v <= Number(hi), `${key} at ${t}: ${lo} ≤ ${v} ≤ ${hi}`);
        }
        const [f, vf] = values[0]!;
        const [l, vl] = values.at(-1)!;
        const promRate = Number(
          rates.find((r) => r.metric.vm === row.metric.vm && r.metric.vcpu === row.metric.vcpu)!.value![1],
        );
        const span = (l - f) / 1000;
        const slope = (vl - vf) / span;
        // rate() is the increase from the first to the last scrape, extrapolated towards the
        // window's edges — fully when the scrapes are regular, by half an interval when a gap is
        // long (an emulated CPU) — and never past them: slope × span / window ≤ rate ≤ slope.
        const window = 8 * SCRAPE_SECONDS;
        const eps = 1e-9 * slope + 1e-9;
        assert.ok(
          slope * (span / window) - eps <= promRate && promRate <= slope + eps,
          `rate() ${promRate} of scrapes whose slope is ${slope} over ${span} s of ${window} s`,
        );
        const [fLo, fHi] = within(f);
        const [lLo, lHi] = within(l);
        const ours = (lLo - fLo) / span;
        const bound = (Number(lHi) - lLo + (Number(fHi) - fLo)) / span;
        assert.ok(Math.abs(slope - ours) <= bound, `${key}: rate ${slope} vs ours ${ours} (bound ${bound})`);
        assert.ok(promRate > 0);
      }
    }
  });

  test('paused domains: values equal our reader exactly; histogram_quantile falls in hvkit percentile buckets', {
    skip,
  }, async () => {
    for (const domid of [1, 2, 3]) assert.equal(ctl(host.pid, ['pause', String(domid)]).code, 0);
    await sleep(hangDeadline(500));
    clearInterval(sampling);
    readOnce();
    const frozen = seen.at(-1)!;
    // Three more scrapes of the frozen counters.
    const t0 = Date.now();
    await waitFor(
      'scrapes after the pause',
      async () => Date.now() > t0 + 3500 * SCRAPE_SECONDS,
      10_000 * SCRAPE_SECONDS,
    );
    const now = Date.now();
    for (const { family, stat } of checkedCounters(backend)) {
      const exits = await query(`${family}{${ourLabels()}}`, now);
      assert.equal(exits.length, 6);
      for (const r of exits) {
        const ours = frozen.stats.get(`${r.metric.vm}|${r.metric.vcpu}|${stat}`)!.value!;
        assert.equal(r.value![1], ours.toString(), `${family} of ${r.metric.vm}/${r.metric.vcpu}`);
      }
    }
    const cpu = await query(`hvkit_vmm_vm_sched_cpu_time_seconds_total{${ourLabels()}}`, now);
    assert.equal(cpu.length, 3);
    for (const r of cpu) {
      const raw = frozen.stats.get(`${r.metric.vm}||sched.cpu_time_ns`)!;
      assert.equal(Number(r.value![1]), Number(raw.value!) / 1e9);
    }
    let compared = 0;
    for (const q of [0.5, 0.9, 0.99]) {
      const quantiles = await query(
        `histogram_quantile(${q}, hvkit_vmm_vcpu_io_io_latency_hist_nanoseconds{${ourLabels()}})`,
        now,
      );
      assert.equal(quantiles.length, 6);
      for (const r of quantiles) {
        const s = frozen.stats.get(`${r.metric.vm}|${r.metric.vcpu}|io.io_latency_hist`)!;
        const p = percentile('log2', s.buckets!, q);
        const got = Number(r.value![1]);
        if (!p) {
          assert.ok(Number.isNaN(got));
          continue;
        }
        // hvkit: the value lies in [lower, upper) of kernel bucket i; Prometheus interpolates in
        // (2^(i-1), 2^i]. The last kernel bucket has no upper bound (it also counts everything
        // above); Prometheus places it at its power of two, so only the lower bound is comparable.
        const upper = p.upper === null || p.upper === undefined ? Number.POSITIVE_INFINITY : Number(p.upper);
        assert.ok(Number(p.lower) <= got && got <= upper, `q${q}: ${got} in [${p.lower}, ${p.upper}]`);
        compared++;
      }
    }
    assert.ok(compared > 0);
    const counts = await query(`histogram_count(hvkit_vmm_vcpu_io_io_latency_hist_nanoseconds{${ourLabels()}})`, now);
    for (const r of counts) {
      const s = frozen.stats.get(`${r.metric.vm}|${r.metric.vcpu}|io.io_latency_hist`)!;
      assert.equal(
        BigInt(r.value![1]),
        s.buckets!.reduce((a, b) => a + b, 0n),
      );
    }
  });

  test('promtool check metrics accepts the text output (its only remarks: the nanosecond histograms)', {
    skip,
  }, async () => {
    const text = await (await fetch(exporterUrl)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const remarks = `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean);
    assert.ok(r.status === 0 || r.status === 3, `promtool exit ${r.status}: ${remarks.join('\n')}`);
    for (const line of remarks) assert.match(line, /_nanoseconds use base unit "seconds" instead of "nanoseconds"$/);
  });
}
