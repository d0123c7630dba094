/**
 * The few numbers `hvkit top` shows per VM and per vCPU, picked from whatever statistics a source
 * provides. A metric lists candidate stats, each by its identity: a KVM stat by the kernel's exact
 * name (the kernel's name is its identity), an hvkit stats-table counter by its field identity
 * (block, group bit, offset), never by its name — a field or group renamed in a later revision
 * (which `hvkit abi check` accepts with a warning) keeps its column, and a counter of another
 * group that happens to share the name is not taken for it. Table fields are written here as they
 * are named in REFERENCE_REVISION and resolved to their identity once.
 *
 * When both exist, exits and halts come from the kernel (it also counts exits handled in the
 * kernel), while port and MMIO I/O come from the VMM: every such exit reaches it, so its count is
 * exact, and some vendor modules (kvm_pvm) leave the kernel's io_exits at zero.
 */

import type { StatSample, VcpuSample, VmSample } from '../../attach/sample.ts';
import { InternalError } from '../../errors.ts';
import { statsTableRevision } from '../../formats/stats-table/abi.ts';
import { counterId, type FieldId, sameFieldId, tableModel } from '../../formats/stats-table/model.ts';
import type { Percentile } from '../../stats/histogram.ts';
import { summarizeHistogram } from '../../stats/histogram.ts';
import { toNumber, type UnitScale } from '../../stats/units.ts';
import { sumBuckets } from './percentiles.ts';
import type { SampleDeltas } from './rates.ts';
import { type Scope, seriesKey } from './series.ts';

export type RateMetricId = 'exits' | 'halt' | 'io' | 'mmio' | 'run';
export type MetricId = RateMetricId | 'p99';

/** The frozen stats-table revision whose names the `vmm` candidates below use. */
export const REFERENCE_REVISION = 6;

/** One measure of a metric: the kernel's stat of that name and/or the VMM's vCPU counter `<group>.<counter>`. */
export interface StatCandidate {
  kvm?: string;
  vmm?: `${string}.${string}`;
}

interface RateMetric {
  id: RateMetricId;
  /** In order: the first found is the best measure. */
  candidates: readonly StatCandidate[];
  /** 'rate': events per second; 'busy': a time counter as percent of wall time. */
  as: 'rate' | 'busy';
  /** Whose count wins when both the kernel and the VMM report the metric. */
  prefer: StatSample['origin'];
}

export const RATE_METRICS: readonly RateMetric[] = [
  { id: 'exits', candidates: [{ kvm: 'exits', vmm: 'exits.exits_total' }], as: 'rate', prefer: 'kvm' },
  { id: 'halt', candidates: [{ kvm: 'halt_exits', vmm: 'exits.hlt_exits' }], as: 'rate', prefer: 'kvm' },
  { id: 'io', candidates: [{ kvm: 'io_exits', vmm: 'exits.io_exits' }], as: 'rate', prefer: 'vmm' },
  { id: 'mmio', candidates: [{ kvm: 'mmio_exits', vmm: 'exits.mmio_exits' }], as: 'rate', prefer: 'vmm' },
  { id: 'run', candidates: [{ vmm: 'vmm.run_time_ns' }], as: 'busy', prefer: 'vmm' },
];

/** The histogram whose last-interval p99 is the `p99` column. */
export const LATENCY_CANDIDATES: readonly StatCandidate[] = [
  { vmm: 'vmm.exit_latency_hist' },
  { kvm: 'halt_wait_hist', vmm: 'halt.halt_wait_hist' },
];

const fieldIds = new Map<string, FieldId>();

/** The identity of a `vmm` candidate, resolved once in the reference revision's lock file. */
function vmmFieldId(name: string): FieldId {
  let id = fieldIds.get(name);
  if (!id) {
    const [group = '', counter = ''] = name.split('.');
    id = counterId(tableModel(statsTableRevision(REFERENCE_REVISION)), 'vcpu', group, counter);
    if (!id)
      throw new InternalError(
        `top metric field ${name} is not a vCPU counter of stats-table revision ${REFERENCE_REVISION}`,
      );
    fieldIds.set(name, id);
  }
  return id;
}

function findCandidate(
  stats: readonly StatSample[],
  c: StatCandidate,
  kind: StatSample['kind'],
  origin: StatSample['origin'],
): StatSample | undefined {
  if (origin === 'kvm') {
    return c.kvm === undefined
      ? undefined
      : stats.find((s) => s.kind === kind && s.origin === 'kvm' && s.name === c.kvm);
  }
  if (c.vmm === undefined) return undefined;
  const id = vmmFieldId(c.vmm);
  return stats.find((s) => s.kind === kind && s.origin === 'vmm' && s.field !== undefined && sameFieldId(s.field, id));
}

/** The stat a metric reads in one scope: the first candidate found, from the preferred origin if both have it. */
export function pickStat(
  stats: readonly StatSample[],
  candidates: readonly StatCandidate[],
  kind: StatSample['kind'],
  prefer: StatSample['origin'] = 'kvm',
): StatSample | undefined {
  // Candidates in order (the first is the best measure); within one, the preferred origin.
  const origins = prefer === 'kvm' ? (['kvm', 'vmm'] as const) : (['vmm', 'kvm'] as const);
  for (const c of candidates) {
    for (const origin of origins) {
      const found = findCandidate(stats, c, kind, origin);
      if (found) return found;
    }
  }
  return undefined;
}

export interface LatencyValue {
  p99: Percentile;
  unit: UnitScale;
  statName: string;
}

export interface MetricValues {
  rates: Partial<Record<RateMetricId, number>>;
  /** Total of the `exits` counter (exact). */
  exitsTotal?: bigint;
  /** p99 of the latency histogram over the last interval. */
  latency?: LatencyValue;
}

function rateOf(metric: RateMetric, stat: StatSample, key: string, deltas: SampleDeltas): number | undefined {
  const d = deltas.counters.get(key);
  if (!d) return undefined;
  if (metric.as === 'rate') return d.perSecond;
  // Time spent per second of wall time, as a percentage.
  return toNumber(BigInt(Math.round(d.perSecond)), stat.unit) * 100;
}

/** Metric values of one vCPU (or of the VM-level stats alone). */
export function scopeMetrics(vmKey: string, scope: Scope, stats: StatSample[], deltas: SampleDeltas): MetricValues {
  const values: MetricValues = { rates: {} };
  for (const metric of RATE_METRICS) {
    const stat = pickStat(stats, metric.candidates, 'counter', metric.prefer);
    if (!stat) continue;
    const rate = rateOf(metric, stat, seriesKey(vmKey, scope, stat.name), deltas);
    if (rate !== undefined) values.rates[metric.id] = rate;
    if (metric.id === 'exits') values.exitsTotal = stat.value;
  }
  const hist = pickStat(stats, LATENCY_CANDIDATES, 'histogram');
  const interval = hist && deltas.histograms.get(seriesKey(vmKey, scope, hist.name));
  if (hist && interval) {
    const p99 = summarizeHistogram(hist.histogram?.kind ?? 'log2', interval.buckets, hist.histogram?.bucketSize).p99;
    if (p99) values.latency = { p99, unit: hist.unit, statName: hist.name };
  }
  return values;
}

/**
 * Metric values of a whole VM: a metric the VM reports VM-wide is used as is; otherwise it is the
 * sum over the vCPUs (for `run`, the sum of vCPU percentages, like top's CPU column).
 */
export function vmMetrics(vm: VmSample, deltas: SampleDeltas): MetricValues {
  const own = scopeMetrics(vm.key, 'vm', vm.vm, deltas);
  const perVcpu = vm.vcpus.map((v) => scopeMetrics(vm.key, v.index, v.stats, deltas));
  const values: MetricValues = { rates: { ...own.rates }, exitsTotal: own.exitsTotal, latency: own.latency };
  for (const metric of RATE_METRICS) {
    if (values.rates[metric.id] !== undefined) continue;
    const known = perVcpu.map((m) => m.rates[metric.id]).filter((r): r is number => r !== undefined);
    if (known.length > 0) values.rates[metric.id] = known.reduce((a, b) => a + b, 0);
  }
  if (values.exitsTotal === undefined) {
    const totals = perVcpu.map((m) => m.exitsTotal).filter((t): t is bigint => t !== undefined);
    if (totals.length > 0) values.exitsTotal = totals.reduce((a, b) => a + b, 0n);
  }
  if (!values.latency) values.latency = vcpuLatency(vm.key, vm.vcpus, deltas);
  return values;
}

/** p99 over the interval buckets of every vCPU's latency histogram added together. */
function vcpuLatency(vmKey: string, vcpus: VcpuSample[], deltas: SampleDeltas): LatencyValue | undefined {
  let first: StatSample | undefined;
  const intervals: bigint[][] = [];
  for (const v of vcpus) {
    const hist = pickStat(v.stats, LATENCY_CANDIDATES, 'histogram');
    if (!hist || (first && hist.name !== first.name)) continue;
    first ??= hist;
    const d = deltas.histograms.get(seriesKey(vmKey, v.index, hist.name));
    if (d) intervals.push(d.buckets);
  }
  if (!first || intervals.length === 0) return undefined;
  const p99 = summarizeHistogram(
    first.histogram?.kind ?? 'log2',
    sumBuckets(intervals),
    first.histogram?.bucketSize,
  ).p99;
  return p99 ? { p99, unit: first.unit, statName: first.name } : undefined;
}
