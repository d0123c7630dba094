/**
 * What the web view knows: every sample the export collector takes goes through top's tracker
 * (the same rates, metrics and identity as `hvkit top`), and this keeps, per VM, a ring of recent
 * points for drill-down (rates, exits/s by reason, per-vCPU rates, histogram interval buckets for
 * the heatmaps) and a ring of lifecycle events. Listeners (the SSE stream) get one compact update
 * per sample. Pure bookkeeping: no timers and no I/O.
 */
import type { HostSample, LifecycleEvent, StatSample, VmSample } from '../../attach/sample.ts';
import { summarizeHistogram } from '../../stats/histogram.ts';
import { scaleValue, type UnitScale } from '../../stats/units.ts';
import type { Frame, VmRow } from '../top/frame.ts';
import { TopTracker } from '../top/frame.ts';
import { metricsDoc, vmIdentityDoc } from '../top/json.ts';
import { formatPercentile, sumBuckets } from '../top/percentiles.ts';
import type { SampleDeltas } from '../top/rates.ts';
import { seriesKey } from '../top/series.ts';

export interface WebStateOptions {
  /** Points kept per VM for drill-down (default 300). */
  historyLength?: number;
  /** Lifecycle events kept (default 200). */
  eventLimit?: number;
}

type Rates = Record<string, number>;

export interface VcpuPoint {
  index: number;
  rates: Rates;
}

/** One sample of one VM, as the drill-down charts plot it. */
export interface VmPoint {
  seq: number;
  /** Wall clock, milliseconds since the epoch. */
  t: number;
  rates: Rates;
  /** Exits per second by reason: every counter named `*_exits`, summed over the VM's scopes. */
  reasons: Rates;
  vcpus: VcpuPoint[];
  /** Interval bucket counts per histogram name, summed over the VM's scopes. */
  histograms: Record<string, { buckets: number[]; p50: number | null; p99: number | null }>;
}

export interface HistogramShape {
  name: string;
  origin: StatSample['origin'];
  kind: 'linear' | 'log2';
  unit: UnitScale;
  /** Each bucket's lower bound in the stat's unit, as text (the heatmap's y labels). */
  labels: string[];
}

interface VmTrack {
  points: VmPoint[];
  histograms: Map<string, HistogramShape>;
  /** A domid-reused event named this VM. */
  domidReused: boolean;
}

/** A counter of one kind of exit (`io_exits`, `exits.hlt_exits`); the totals are not reasons. */
function isReason(stat: StatSample): boolean {
  const leaf = stat.name.slice(stat.name.lastIndexOf('.') + 1);
  return stat.kind === 'counter' && leaf.endsWith('_exits') && leaf !== 'exits_total';
}

function reasonsOf(vm: VmSample, deltas: SampleDeltas): Rates {
  const out: Rates = {};
  const add = (scope: 'vm' | number, stats: StatSample[]) => {
    for (const s of stats) {
      if (!isReason(s)) continue;
      const d = deltas.counters.get(seriesKey(vm.key, scope, s.name));
      if (d) out[s.name] = (out[s.name] ?? 0) + d.perSecond;
    }
  };
  add('vm', vm.vm);
  for (const v of vm.vcpus) add(v.index, v.stats);
  return out;
}

function histogramsOf(vm: VmSample, deltas: SampleDeltas, shapes: Map<string, HistogramShape>): VmPoint['histograms'] {
  const groups = new Map<string, { stat: StatSample; intervals: bigint[][] }>();
  const add = (scope: 'vm' | number, stats: StatSample[]) => {
    for (const s of stats) {
      if (s.kind !== 'histogram' || !s.buckets) continue;
      const d = deltas.histograms.get(seriesKey(vm.key, scope, s.name));
      if (!d) continue;
      let g = groups.get(s.name);
      if (!g) {
        g = { stat: s, intervals: [] };
        groups.set(s.name, g);
      }
      g.intervals.push(d.buckets);
    }
  };
  add('vm', vm.vm);
  for (const v of vm.vcpus) add(v.index, v.stats);
  const out: VmPoint['histograms'] = {};
  for (const [name, g] of groups) {
    const kind = g.stat.histogram?.kind ?? 'log2';
    const size = g.stat.histogram?.bucketSize ?? 0;
    const buckets = sumBuckets(g.intervals);
    if (!shapes.has(name)) shapes.set(name, histogramShape(g.stat, buckets.length));
    const summary = summarizeHistogram(kind, buckets, size);
    out[name] = {
      buckets: buckets.map(Number),
      p50: summary.p50?.index ?? null,
      p99: summary.p99?.index ?? null,
    };
  }
  return out;
}

function histogramShape(stat: StatSample, count: number): HistogramShape {
  const kind = stat.histogram?.kind ?? 'log2';
  const size = BigInt(stat.histogram?.bucketSize ?? 0);
  const labels = Array.from({ length: count }, (_, i) => {
    const lower = kind === 'linear' ? size * BigInt(i) : i === 0 ? 0n : 1n << BigInt(i - 1);
    return scaleValue(lower, stat.unit).text;
  });
  return { name: stat.name, origin: stat.origin, kind, unit: stat.unit, labels };
}

function vmSummary(row: VmRow, track: VmTrack | undefined) {
  const vm = row.vm;
  const latency = row.metrics.latency;
  return {
    ...vmIdentityDoc(vm),
    domidReused: track?.domidReused ?? false,
    sources: vm.sources,
    note: vm.note ?? null,
    ...metricsDoc(row.metrics),
    p99Text: latency ? formatPercentile(latency.p99, latency.unit) : null,
    vcpus: row.vcpus.map((v) => ({ index: v.index, ...metricsDoc(v.metrics) })),
  };
}

export type VmSummary = ReturnType<typeof vmSummary>;

export interface SampleUpdate {
  seq: number;
  t: number;
  vms: VmSummary[];
  /** Events of this sample only. */
  events: LifecycleEvent[];
}

export class WebState {
  readonly #tracker: TopTracker;
  readonly #historyLength: number;
  readonly #eventLimit: number;
  readonly #tracks = new Map<string, VmTrack>();
  readonly #listeners = new Set<(update: SampleUpdate) => void>();
  #events: LifecycleEvent[] = [];
  #frame: Frame | undefined;
  #seq = 0;
  #last: SampleUpdate | undefined;

  constructor(options: WebStateOptions = {}) {
    this.#historyLength = options.historyLength ?? 300;
    this.#eventLimit = options.eventLimit ?? 200;
    // top's tracker keeps its own short history; the drill-down history lives here.
    this.#tracker = new TopTracker({ historyLength: 1, eventLimit: 1 });
  }

  push(sample: HostSample, wallMs = Date.now()): SampleUpdate {
    const frame = this.#tracker.push(sample, wallMs);
    this.#frame = frame;
    const seq = ++this.#seq;
    const events = [...sample.events].sort((a, b) => a.at - b.at);
    this.#events = [...this.#events, ...events].slice(-this.#eventLimit);
    const present = new Set<string>();
    for (const row of frame.vms) {
      present.add(row.vm.key);
      let track = this.#tracks.get(row.vm.key);
      if (!track) {
        track = { points: [], histograms: new Map(), domidReused: false };
        this.#tracks.set(row.vm.key, track);
      }
      if (events.some((e) => e.kind === 'domid-reused' && e.vmKey === row.vm.key)) track.domidReused = true;
      if (frame.deltas.intervalNs === 0n) continue; // no rates before a second sample
      track.points.push({
        seq,
        t: wallMs,
        rates: { ...row.metrics.rates },
        reasons: reasonsOf(row.vm, frame.deltas),
        vcpus: row.vcpus.map((v) => ({ index: v.index, rates: { ...v.metrics.rates } })),
        histograms: histogramsOf(row.vm, frame.deltas, track.histograms),
      });
      if (track.points.length > this.#historyLength) track.points.splice(0, track.points.length - this.#historyLength);
    }
    for (const key of this.#tracks.keys()) if (!present.has(key)) this.#tracks.delete(key);
    const update: SampleUpdate = { seq, t: wallMs, vms: this.#summaries(), events };
    this.#last = update;
    for (const listener of this.#listeners) listener(update);
    return update;
  }

  #summaries(): VmSummary[] {
    return (this.#frame?.vms ?? []).map((row) => vmSummary(row, this.#tracks.get(row.vm.key)));
  }

  /** Samples taken so far. */
  get seq(): number {
    return this.#seq;
  }

  /** GET /api/vms */
  vms() {
    return { seq: this.#seq, t: this.#last?.t ?? null, vms: this.#last?.vms ?? [] };
  }

  /** GET /api/vms/:key; undefined for a VM not on the host now. */
  vm(key: string) {
    const row = this.#frame?.vms.find((v) => v.vm.key === key);
    const track = this.#tracks.get(key);
    if (!row || !track) return undefined;
    return {
      seq: this.#seq,
      vm: vmSummary(row, track),
      histograms: [...track.histograms.values()],
      points: track.points,
      events: this.#events.filter((e) => e.vmKey === key),
    };
  }

  /** GET /api/events: oldest first. */
  events() {
    return { seq: this.#seq, events: this.#events };
  }

  /** The latest update, for a stream's first message. */
  get latest(): SampleUpdate | undefined {
    return this.#last;
  }

  subscribe(listener: (update: SampleUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
