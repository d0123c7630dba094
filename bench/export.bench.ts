/**
 * `hvkit export` rendering a synthetic host against prom-client rendering the same values, in the
 * same run. Target: a scrape ≥ 5× faster than prom-client's; cost linear in series.
 *
 * The host: 1000 VMs × 4 vCPUs. Per VM 10 counters (one in nanoseconds, exported in seconds) and
 * 2 gauges; per vCPU 20 counters, 2 gauges and 2 log2 histograms of 32 buckets (KVM-like
 * nanosecond histograms). 1000 × (12 + 4 × 24) = 108 000 series; 2 × 4000 histograms of 32 buckets.
 *
 *  (a) a scrape from a host sample: hvkit maps the sample to families (labels, resets) and encodes
 *      text 0.0.4; prom-client sets every value into its registry (counters reset then inc,
 *      gauges set, histograms as cumulative `_bucket{le}` gauges — prom-client's Histogram only
 *      takes observations, not buckets) and renders `registry.metrics()`. The same text lines.
 *  (b) rendering alone: hvkit's encoders over ready families vs prom-client's metrics() over a
 *      registry whose values are already set.
 *  (c) hvkit protobuf (native histograms) and OpenMetrics, for scale.
 * Then: memory per scrape (heap growth of one scrape, and the output size), and hvkit's scrape
 * time per series at 250, 500, 1000 and 2000 VMs, fastest of 9 (linear: the same ns per series).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { Counter, Gauge, Registry } from 'prom-client';
import type { HostSample, StatSample, VmSample } from '../src/attach/sample.ts';
import { encodeProtobuf } from '../src/formats/exposition/protobuf.ts';
import {
  encodeOpenMetricsBytes,
  encodePrometheusText,
  encodePrometheusTextBytes,
} from '../src/formats/exposition/text.ts';
import { SampleMapper, vmLabels } from '../src/tools/export/mapping.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const COUNT = { unit: 'none', base: 10, exponent: 0 } as const;
const NS = { unit: 'seconds', base: 10, exponent: -9 } as const;
const BUCKETS = 32;

function counters(prefix: string, n: number, seed: number): StatSample[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}_${i}${i === 0 ? '_ns' : ''}`,
    kind: 'counter' as const,
    unit: i === 0 ? NS : COUNT,
    origin: 'kvm' as const,
    value: BigInt(seed * 7919 + i * 104_729),
  }));
}

function gauges(prefix: string, n: number, seed: number): StatSample[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}_gauge_${i}`,
    kind: 'gauge' as const,
    unit: COUNT,
    origin: 'kvm' as const,
    value: BigInt((seed * 31 + i) % 1000),
  }));
}

const LOG2 = { kind: 'log2' as const, bucketSize: 0 };
function histograms(n: number, seed: number): StatSample[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `latency_${i}_hist_ns`,
    kind: 'histogram' as const,
    unit: NS,
    origin: 'kvm' as const,
    histogram: LOG2,
    buckets: Array.from({ length: BUCKETS }, (_, b) => (b > 6 && b < 20 ? BigInt((seed + b * 13) % 500) : 0n)),
  }));
}

function hostSample(vms: number, round = 0): HostSample {
  const out: VmSample[] = [];
  for (let v = 0; v < vms; v++) {
    out.push({
      key: `pid:${1000 + v}:123456:kvm-${v}`,
      name: `vm-${v}`,
      pid: 1000 + v,
      owner: 'other',
      domid: v + 1,
      sources: ['kvm-stats-fd'],
      vm: [...counters('vm_stat', 10, v + round), ...gauges('vm', 2, v)],
      vcpus: Array.from({ length: 4 }, (_, index) => ({
        index,
        stats: [
          ...counters('vcpu_stat', 20, v * 4 + index + round),
          ...gauges('vcpu', 2, v),
          ...histograms(2, v + index),
        ],
      })),
    });
  }
  return { at: 0n, vms: out, events: [] };
}

/** prom-client: one metric object per family, label names as hvkit's; values set from the sample. */
class PromClientPeer {
  readonly registry = new Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();

  #counter(name: string, labelNames: string[]): Counter {
    let c = this.#counters.get(name);
    if (!c) {
      c = new Counter({ name, help: `KVM stat ${name}`, labelNames, registers: [this.registry] });
      this.#counters.set(name, c);
    }
    return c;
  }

  #gauge(name: string, labelNames: string[]): Gauge {
    let g = this.#gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help: `KVM stat ${name}`, labelNames, registers: [this.registry] });
      this.#gauges.set(name, g);
    }
    return g;
  }

  #stat(s: StatSample, scope: string, labels: Record<string, string>, labelNames: string[]) {
    const base = `hvkit_kvm_${scope}_${s.name.replace(/_ns$/, '')}`;
    if (s.kind === 'counter') {
      const seconds = s.unit === NS;
      const c = this.#counter(`${base}${seconds ? '_seconds' : ''}_total`, labelNames);
      c.remove(labels);
      c.inc(labels, seconds ? Number(s.value!) / 1e9 : Number(s.value!));
    } else if (s.kind === 'gauge') {
      this.#gauge(base, labelNames).set(labels, Number(s.value!));
    } else {
      const name = `${base}_nanoseconds`;
      const bucket = this.#gauge(`${name}_bucket`, [...labelNames, 'le']);
      let cumulative = 0;
      const n = s.buckets!.length;
      for (let i = 0; i < n; i++) {
        cumulative += Number(s.buckets![i]!);
        bucket.set({ ...labels, le: i === n - 1 ? '+Inf' : String(2 ** i - 1) }, cumulative);
      }
      this.#gauge(`${name}_count`, labelNames).set(labels, cumulative);
    }
  }

  set(sample: HostSample): void {
    for (const v of sample.vms) {
      const vmLabelsObj = Object.fromEntries(vmLabels(v));
      const vmNames = Object.keys(vmLabelsObj);
      for (const s of v.vm) this.#stat(s, 'vm', vmLabelsObj, vmNames);
      const vcpuNames = [...vmNames, 'vcpu'];
      for (const c of v.vcpus) {
        const labels = { ...vmLabelsObj, vcpu: String(c.index) };
        for (const s of c.stats) this.#stat(s, 'vcpu', labels, vcpuNames);
      }
    }
  }
}

const VMS = 1000;
const sampleA = hostSample(VMS, 0);
const sampleB = hostSample(VMS, 1);
const mapper = new SampleMapper();
let flip = false;
const hvkitScrape = () => {
  flip = !flip;
  const m = mapper.map(flip ? sampleA : sampleB, Date.now());
  return encodePrometheusTextBytes({ families: m.families, atMs: 0 });
};
const peer = new PromClientPeer();
const peerScrape = async () => {
  flip = !flip;
  peer.set(flip ? sampleA : sampleB);
  return peer.registry.metrics();
};

const ready = mapper.map(sampleA, Date.now());
const exposition = { families: ready.families, atMs: 0 };
const readyPeer = new PromClientPeer();
readyPeer.set(sampleA);

const hvkitText = encodePrometheusText(exposition);
const peerText = await readyPeer.registry.metrics();
const lines = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
console.log(
  `synthetic host: ${VMS} VMs × 4 vCPUs, ${ready.series} series; text sample lines: hvkit ${lines(hvkitText)}, prom-client ${lines(peerText)}; bytes: hvkit ${Buffer.byteLength(hvkitText)}, prom-client ${Buffer.byteLength(peerText)}`,
);

summary(() => {
  bench('(a) hvkit: sample → families → text 0.0.4', () => do_not_optimize(hvkitScrape()));
  bench('(a) prom-client: set values → registry.metrics()', async () => do_not_optimize(await peerScrape()));
});
summary(() => {
  bench('(b) hvkit: families → text 0.0.4', () => do_not_optimize(encodePrometheusTextBytes(exposition)));
  bench('(b) prom-client: registry.metrics()', async () => do_not_optimize(await readyPeer.registry.metrics()));
});
summary(() => {
  bench('(c) hvkit: families → protobuf (native + classic)', () => do_not_optimize(encodeProtobuf(exposition)));
  bench('(c) hvkit: families → OpenMetrics', () => do_not_optimize(encodeOpenMetricsBytes(exposition)));
});
await run();

/** Heap growth of one scrape (after a full gc), median of 5: the garbage one scrape makes. */
async function heapPerScrape(scrape: () => unknown): Promise<number> {
  const growth: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const out = await scrape();
    growth.push(process.memoryUsage().heapUsed - before);
    do_not_optimize(out);
  }
  growth.sort((a, b) => a - b);
  return growth[2]!;
}
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.log(
  `\nheap growth per scrape (a): hvkit ${mib(await heapPerScrape(hvkitScrape))}, prom-client ${mib(await heapPerScrape(peerScrape))}`,
);

/** Fastest of n scrapes: on a shared machine the minimum is the least disturbed measurement. */
function fastestMs(scrape: () => unknown, n: number): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    do_not_optimize(scrape());
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return Math.min(...t);
}
console.log('\nhvkit scrape (a) by host size (fastest of 9):');
for (const vms of [250, 500, 1000, 2000]) {
  const a = hostSample(vms, 0);
  const b = hostSample(vms, 1);
  const m = new SampleMapper();
  let f = false;
  const scrape = () => {
    f = !f;
    const r = m.map(f ? a : b, 0);
    return encodePrometheusTextBytes({ families: r.families, atMs: 0 });
  };
  fastestMs(scrape, 3);
  const series = m.map(a, 0).series;
  const ms = fastestMs(scrape, 9);
  console.log(
    `  ${String(vms).padStart(4)} VMs, ${String(series).padStart(6)} series: ${ms.toFixed(1)} ms, ${((ms * 1e6) / series).toFixed(0)} ns/series`,
  );
}
