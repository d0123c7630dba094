/**
 * JSON documents of `hvkit top --json`: everything a sample holds plus the computed rates and
 * percentiles. Every bigint (u64 counters, bucket counts, unique ids, timestamps) is a decimal
 * string, so values above 2^53 stay exact.
 */

import type { StatSample, VmSample } from '../../attach/sample.ts';
import type { HistogramSummary, Percentile } from '../../stats/histogram.ts';
import type { Frame, VmRow } from './frame.ts';
import type { MetricValues } from './metrics.ts';
import type { SampleDeltas } from './rates.ts';
import { type Scope, seriesKey } from './series.ts';

function bigintsAsStrings(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** One line per document (JSON Lines) for streams; indented for a single document. */
export function serializeJson(doc: unknown, pretty: boolean): string {
  return JSON.stringify(doc, bigintsAsStrings, pretty ? 2 : undefined);
}

function percentileDoc(p: Percentile | undefined) {
  return p ? { lower: p.lower, upper: p.upper } : null;
}

function summaryDoc(s: HistogramSummary | undefined) {
  if (!s) return null;
  return { total: s.total, p50: percentileDoc(s.p50), p90: percentileDoc(s.p90), p99: percentileDoc(s.p99) };
}

function statDoc(vmKey: string, scope: Scope, stat: StatSample, deltas: SampleDeltas) {
  const key = seriesKey(vmKey, scope, stat.name);
  const counter = deltas.counters.get(key);
  const hist = deltas.histograms.get(key);
  return {
    name: stat.name,
    kind: stat.kind,
    origin: stat.origin,
    unit: stat.unit,
    ...(stat.value === undefined ? {} : { value: stat.value }),
    ...(counter ? { delta: counter.delta, perSecond: counter.perSecond, reset: counter.reset } : {}),
    ...(stat.buckets ? { buckets: stat.buckets, histogram: stat.histogram ?? null } : {}),
    ...(hist ? { intervalBuckets: hist.buckets, reset: hist.reset } : {}),
  };
}

/** A VM's or vCPU's metric values as top --json and the web view's API give them. */
export function metricsDoc(m: MetricValues) {
  return {
    rates: m.rates,
    exitsTotal: m.exitsTotal ?? null,
    latencyP99: m.latency ? { stat: m.latency.statName, ...percentileDoc(m.latency.p99) } : null,
  };
}

/** Who a VM is, as top --json and the web view's API name it. */
export function vmIdentityDoc(vm: VmSample) {
  return {
    key: vm.key,
    name: vm.name,
    pid: vm.pid,
    owner: vm.owner,
    domid: vm.domid ?? null,
    uniqueId: vm.uniqueId ?? null,
  };
}

function vmDoc(row: VmRow, deltas: SampleDeltas) {
  const vm = row.vm;
  return {
    ...vmIdentityDoc(vm),
    sources: vm.sources,
    note: vm.note ?? null,
    ...metricsDoc(row.metrics),
    histograms: row.histograms.map((h) => ({
      name: h.name,
      origin: h.origin,
      interval: summaryDoc(h.view.interval),
      overall: summaryDoc(h.view.overall),
    })),
    stats: vm.vm.map((s) => statDoc(vm.key, 'vm', s, deltas)),
    vcpus: vm.vcpus.map((v, i) => ({
      index: v.index,
      ...metricsDoc(row.vcpus[i]!.metrics),
      stats: v.stats.map((s) => statDoc(vm.key, v.index, s, deltas)),
    })),
  };
}

/** The document of one frame; `vmKeys` selects and orders the VMs (after filter and sort). */
export function frameDocument(frame: Frame, vmKeys: readonly string[]) {
  const byKey = new Map(frame.vms.map((v) => [v.vm.key, v]));
  return {
    at: frame.sample.at,
    time: new Date(frame.wallMs).toISOString(),
    intervalNs: frame.deltas.intervalNs === 0n ? null : frame.deltas.intervalNs,
    vms: vmKeys.flatMap((k) => {
      const row = byKey.get(k);
      return row ? [vmDoc(row, frame.deltas)] : [];
    }),
    events: frame.sample.events,
  };
}
