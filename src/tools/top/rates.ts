/**
 * Differences between two consecutive samples: per-second rates of counters and the bucket counts
 * a histogram gathered during the interval. A counter that went down was reset (its owner restarted
 * it, e.g. a vCPU re-created under the same key): the new value is what it counted since the reset,
 * never a negative rate.
 */
import type { HostSample, StatSample } from '../../attach/sample.ts';
import { type Scope, seriesKey } from './series.ts';

export interface CounterDelta {
  /** Increase over the interval (the current value after a reset). */
  delta: bigint;
  reset: boolean;
  /** delta per second of the interval. */
  perSecond: number;
}

export interface HistogramDelta {
  /** Samples each bucket gathered during the interval. */
  buckets: bigint[];
  reset: boolean;
}

export interface SampleDeltas {
  /** Nanoseconds between the two samples; 0n when there is no previous sample. */
  intervalNs: bigint;
  counters: Map<string, CounterDelta>;
  histograms: Map<string, HistogramDelta>;
}

export function counterDelta(previous: bigint, current: bigint): { delta: bigint; reset: boolean } {
  return current >= previous ? { delta: current - previous, reset: false } : { delta: current, reset: true };
}

/** Bucket-wise difference; any bucket that went down (or a changed bucket count) means a reset. */
export function histogramDelta(previous: readonly bigint[], current: readonly bigint[]): HistogramDelta {
  const reset = previous.length !== current.length || current.some((c, i) => c < previous[i]!);
  if (reset) return { buckets: [...current], reset: true };
  return { buckets: current.map((c, i) => c - previous[i]!), reset: false };
}

/** Per-second rate of `delta` over `intervalNs`, as a double (display and export only). */
export function perSecond(delta: bigint, intervalNs: bigint): number {
  if (intervalNs <= 0n) return 0;
  // Keep the integer part exact in bigint before going to a double.
  const scaled = delta * 1_000_000_000n;
  const whole = scaled / intervalNs;
  return Number(whole) + Number(scaled - whole * intervalNs) / Number(intervalNs);
}

function indexStats(sample: HostSample): Map<string, StatSample> {
  const out = new Map<string, StatSample>();
  const add = (vmKey: string, scope: Scope, stats: StatSample[]) => {
    for (const s of stats) out.set(seriesKey(vmKey, scope, s.name), s);
  };
  for (const vm of sample.vms) {
    add(vm.key, 'vm', vm.vm);
    for (const vcpu of vm.vcpus) add(vm.key, vcpu.index, vcpu.stats);
  }
  return out;
}

/**
 * The interval a VM's counters moved over: between the times its stats were read in the two
 * samples when both say (VmSample.at), else between the samples.
 */
function vmInterval(before: bigint | undefined, now: bigint | undefined, samples: bigint): bigint {
  return before !== undefined && now !== undefined && now > before ? now - before : samples;
}

/**
 * Deltas of every counter and histogram present in both samples, keyed by seriesKey. A series
 * that is new in `current` has no delta yet (its first interval is unknown, not zero). Rates are
 * per second of each VM's own interval.
 */
export function computeDeltas(previous: HostSample | undefined, current: HostSample): SampleDeltas {
  const result: SampleDeltas = { intervalNs: 0n, counters: new Map(), histograms: new Map() };
  if (!previous || current.at <= previous.at) return result;
  result.intervalNs = current.at - previous.at;
  const before = indexStats(previous);
  const readBefore = new Map<string, bigint | undefined>();
  for (const vm of previous.vms) readBefore.set(vm.key, vm.at);
  const addScope = (vmKey: string, scope: Scope, stats: StatSample[], intervalNs: bigint) => {
    for (const stat of stats) {
      const key = seriesKey(vmKey, scope, stat.name);
      const old = before.get(key);
      if (!old || old.kind !== stat.kind) continue;
      if (stat.kind === 'counter' && stat.value !== undefined && old.value !== undefined) {
        const d = counterDelta(old.value, stat.value);
        result.counters.set(key, { ...d, perSecond: perSecond(d.delta, intervalNs) });
      } else if (stat.kind === 'histogram' && stat.buckets && old.buckets) {
        result.histograms.set(key, histogramDelta(old.buckets, stat.buckets));
      }
    }
  };
  for (const vm of current.vms) {
    const intervalNs = vmInterval(readBefore.get(vm.key), vm.at, result.intervalNs);
    addScope(vm.key, 'vm', vm.vm, intervalNs);
    for (const vcpu of vm.vcpus) addScope(vm.key, vcpu.index, vcpu.stats, intervalNs);
  }
  return result;
}
