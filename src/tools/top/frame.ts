/**
 * Turns the stream of samples into frames the views render: every VM with its metric values,
 * its vCPUs, its histograms (percentiles over the last interval and overall), a sparkline history
 * of exits per second, and the most recent lifecycle events.
 */

import type { HostSample, LifecycleEvent, StatSample, VmSample } from '../../attach/sample.ts';
import { type MetricValues, scopeMetrics, vmMetrics } from './metrics.ts';
import { type HistogramView, histogramView, sumBuckets } from './percentiles.ts';
import { computeDeltas, type SampleDeltas } from './rates.ts';
import { seriesKey } from './series.ts';
import { SeriesHistory } from './sparkline.ts';

export interface VcpuRow {
  index: number;
  metrics: MetricValues;
  /** Exits per second, oldest first. */
  history: number[];
}

export interface HistogramRow {
  /** Stat name as the source gives it. */
  name: string;
  origin: StatSample['origin'];
  view: HistogramView;
}

export interface VmRow {
  vm: VmSample;
  metrics: MetricValues;
  history: number[];
  vcpus: VcpuRow[];
  /** The VM's histograms; vCPU histograms of the same name are added together. */
  histograms: HistogramRow[];
}

export interface Frame {
  sample: HostSample;
  /** Wall clock of the sample (ms since the epoch), for logs. */
  wallMs: number;
  deltas: SampleDeltas;
  vms: VmRow[];
  /** Newest first, at most the tracker's event limit. */
  recentEvents: LifecycleEvent[];
}

export interface TrackerOptions {
  historyLength?: number;
  eventLimit?: number;
}

const HISTORY_METRIC = 'exits/s';

function vmHistograms(vm: VmSample, deltas: SampleDeltas): HistogramRow[] {
  const groups = new Map<string, { stat: StatSample; overall: bigint[][]; interval: bigint[][]; complete: boolean }>();
  const add = (scope: 'vm' | number, stats: StatSample[]) => {
    for (const stat of stats) {
      if (stat.kind !== 'histogram' || !stat.buckets) continue;
      let g = groups.get(stat.name);
      if (!g) {
        g = { stat, overall: [], interval: [], complete: true };
        groups.set(stat.name, g);
      }
      g.overall.push(stat.buckets);
      const d = deltas.histograms.get(seriesKey(vm.key, scope, stat.name));
      if (d) g.interval.push(d.buckets);
      else g.complete = false;
    }
  };
  add('vm', vm.vm);
  for (const v of vm.vcpus) add(v.index, v.stats);
  return [...groups.values()].map((g) => ({
    name: g.stat.name,
    origin: g.stat.origin,
    view: histogramView(
      g.stat.histogram?.kind ?? 'log2',
      g.stat.histogram?.bucketSize ?? 0,
      g.stat.unit,
      sumBuckets(g.overall),
      g.complete ? sumBuckets(g.interval) : undefined,
    ),
  }));
}

export class TopTracker {
  private previous: HostSample | undefined;
  private readonly history: SeriesHistory;
  private events: LifecycleEvent[] = [];
  private readonly eventLimit: number;

  constructor(options: TrackerOptions = {}) {
    this.history = new SeriesHistory(options.historyLength ?? 60);
    this.eventLimit = options.eventLimit ?? 20;
  }

  push(sample: HostSample, wallMs = Date.now()): Frame {
    const deltas = computeDeltas(this.previous, sample);
    this.previous = sample;
    const newest = [...sample.events].sort((a, b) => b.at - a.at);
    this.events = [...newest, ...this.events].slice(0, this.eventLimit);
    const vms = sample.vms.map((vm) => this.vmRow(vm, deltas));
    this.history.sweep();
    return { sample, wallMs, deltas, vms, recentEvents: this.events };
  }

  private track(key: string, metrics: MetricValues): number[] {
    const rate = metrics.rates.exits;
    if (rate !== undefined) this.history.record(key, rate);
    else if (this.history.values(key).length > 0) this.history.record(key, 0);
    return this.history.values(key);
  }

  private vmRow(vm: VmSample, deltas: SampleDeltas): VmRow {
    const metrics = vmMetrics(vm, deltas);
    const vcpus = vm.vcpus.map((v) => {
      const m = scopeMetrics(vm.key, v.index, v.stats, deltas);
      return { index: v.index, metrics: m, history: this.track(seriesKey(vm.key, v.index, HISTORY_METRIC), m) };
    });
    return {
      vm,
      metrics,
      history: this.track(seriesKey(vm.key, 'vm', HISTORY_METRIC), metrics),
      vcpus,
      histograms: vmHistograms(vm, deltas),
    };
  }
}
