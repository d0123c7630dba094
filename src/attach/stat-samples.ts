/**
 * Turning what the readers return into a host sample's StatSample (sample.ts): KVM stats descriptors
 * (cumulative → counter, instant/peak → gauge, linear/log histograms → histogram with their
 * bucket size), stats-table counters (typed by the ABI schema), and debugfs files.
 *
 * The per-stat metadata is computed once per layout (`kvmStatPlan`), so a sample only pairs
 * values with it.
 */
import type { ResolvedField } from '../abi/resolved.ts';
import { isHistogram, StatType } from '../formats/kvm-stats/constants.ts';
import { descriptorScale, listingBudget } from '../formats/kvm-stats/describe.ts';
import type { KvmStatDescriptor, KvmStatsLayout } from '../formats/kvm-stats/types.ts';
import type { DecodedGroup } from '../formats/stats-table/reader.ts';
import type { UnitScale } from '../stats/units.ts';
import type { DebugfsStat } from './debugfs.ts';
import type { StatSample } from './sample.ts';

const PLAIN: UnitScale = { unit: 'none', base: 10, exponent: 0 };
const NANOSECONDS: UnitScale = { unit: 'seconds', base: 10, exponent: -9 };

/** What is fixed for the lifetime of a stats fd: the sample without its value, and where the value is. */
export interface StatTemplate {
  base: Omit<StatSample, 'value' | 'buckets'>;
  word: number;
  size: number;
  /** A histogram past the listing budget: sampled without its buckets (see kvmStatPlan). */
  bucketsOmitted?: boolean;
}

/** The kind of a KVM stat type; unknown (future) types are shown as gauges, never as rates. */
export function kvmStatKind(type: number): StatSample['kind'] {
  if (type === StatType.Cumulative) return 'counter';
  if (isHistogram(type)) return 'histogram';
  return 'gauge';
}

const KVM_TYPE_WORDS: Record<number, string> = {
  [StatType.Cumulative]: 'cumulative',
  [StatType.Instant]: 'instant value',
  [StatType.Peak]: 'peak value',
  [StatType.LinearHist]: 'linear histogram',
  [StatType.LogHist]: 'log2 histogram',
};

/** A KVM stat's HELP line from its descriptor (the kernel has no prose): name, type and raw unit. */
export function kvmStatHelp(d: KvmStatDescriptor, unit: UnitScale): string {
  const type = KVM_TYPE_WORDS[d.type] ?? `type ${d.type}`;
  const scale = unit.exponent === 0 ? '' : ` × ${unit.base}^${unit.exponent}`;
  const raw = unit.unit === 'none' ? (scale === '' ? '' : `, raw${scale}`) : `, raw in ${unit.unit}${scale}`;
  return `KVM binary stat ${d.name} (${type}${raw})`;
}

export function kvmStatTemplate(d: KvmStatDescriptor): StatTemplate {
  const kind = kvmStatKind(d.type);
  const unit = descriptorScale(d);
  const base: StatTemplate['base'] = { name: d.name, kind, unit, origin: 'kvm', help: kvmStatHelp(d, unit) };
  if (kind === 'histogram') {
    base.histogram = { kind: d.type === StatType.LinearHist ? 'linear' : 'log2', bucketSize: d.bucketSize };
  }
  return { base, word: d.word, size: d.size };
}

const plans = new WeakMap<KvmStatsLayout, StatTemplate[]>();

/**
 * Templates of every stat of a layout (stats of size 0 carry nothing and are left out). Each
 * sample copies the histograms' buckets; descriptors piled on the same items would multiply that
 * copy, so the buckets copied per sample stop at the same budget dump lists (twice the data
 * block): histograms past it are sampled without buckets. A kernel's own layouts never share
 * items and always fit.
 */
export function kvmStatPlan(layout: KvmStatsLayout): StatTemplate[] {
  let plan = plans.get(layout);
  if (!plan) {
    let budget = listingBudget(layout.dataSize / 8);
    plan = layout.descriptors
      .filter((d) => d.size > 0)
      .map((d) => {
        const t = kvmStatTemplate(d);
        if (t.base.kind !== 'histogram') return t;
        if (t.size > budget) return { ...t, bucketsOmitted: true };
        budget -= t.size;
        return t;
      });
    plans.set(layout, plan);
  }
  return plan;
}

/**
 * Pairs a data block with its layout's templates. Each sample is a fresh object (the view keeps
 * samples); unit and histogram descriptions are shared with the template and must not be mutated.
 */
export function kvmStatSamples(layout: KvmStatsLayout, values: BigUint64Array): StatSample[] {
  const plan = kvmStatPlan(layout);
  const out: StatSample[] = new Array(plan.length);
  for (let i = 0; i < plan.length; i++) {
    const { base, word, size, bucketsOmitted } = plan[i]!;
    const s: StatSample = { name: base.name, kind: base.kind, unit: base.unit, origin: base.origin, help: base.help };
    if (base.histogram) {
      s.histogram = base.histogram;
      if (!bucketsOmitted) s.buckets = Array.from(values.subarray(word, word + size));
    } else s.value = values[word]!;
    out[i] = s;
  }
  return out;
}

function fieldScale(field: ResolvedField): UnitScale {
  const s = field.stat;
  if (!s) return PLAIN;
  return { unit: s.unit, base: s.base === 'pow2' ? 2 : 10, exponent: s.exponent };
}

function fieldKind(field: ResolvedField): Pick<StatSample, 'kind' | 'histogram'> {
  const type = field.stat?.type ?? 'cumulative';
  if (type === 'cumulative') return { kind: 'counter' };
  if (type === 'log-hist') return { kind: 'histogram', histogram: { kind: 'log2', bucketSize: 0 } };
  if (type === 'linear-hist') {
    return { kind: 'histogram', histogram: { kind: 'linear', bucketSize: field.stat?.bucketSize ?? 1 } };
  }
  return { kind: 'gauge' };
}

/**
 * The counters of decoded stats-table groups, named `<group>.<counter>` (for people) and carrying
 * their field identity (for top's columns). Groups that are not 'ok' (inactive, absent, torn,
 * invalid) and counters marked inactive are left out.
 */
export function tableStatSamples(groups: readonly DecodedGroup[]): StatSample[] {
  const out: StatSample[] = [];
  for (const g of groups) {
    if (g.state !== 'ok') continue;
    for (const c of g.counters) {
      if (c.state !== 'value') continue;
      const sample: StatSample = {
        name: `${g.name}.${c.name}`,
        ...fieldKind(c.field),
        unit: fieldScale(c.field),
        origin: 'vmm',
        field: c.id,
        help: c.field.doc,
      };
      if (c.buckets) sample.buckets = c.buckets;
      else sample.value = c.value;
      out.push(sample);
    }
  }
  return out;
}

/**
 * A debugfs stat file as a StatSample. The file says nothing about its type: a known KVM
 * descriptor of the same name (from any layout seen on this host) decides; otherwise read-only
 * files are instant values (gauges), `max_*` are peaks (gauges), `*_ns` are nanoseconds and the
 * rest are cumulative counters.
 */
export function debugfsStatSample(
  stat: DebugfsStat,
  value: bigint,
  known: ReadonlyMap<string, KvmStatDescriptor>,
): StatSample {
  const d = known.get(stat.name);
  if (d && !isHistogram(d.type)) {
    const unit = descriptorScale(d);
    return { name: stat.name, kind: kvmStatKind(d.type), unit, origin: 'kvm', help: kvmStatHelp(d, unit), value };
  }
  const gauge = !stat.writable || stat.name.startsWith('max_');
  const unit = stat.name.endsWith('_ns') ? NANOSECONDS : PLAIN;
  return { name: stat.name, kind: gauge ? 'gauge' : 'counter', unit, origin: 'kvm', value };
}
