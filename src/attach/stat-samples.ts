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
import type { DecodedCounter, DecodedGroup } from '../formats/stats-table/reader.ts';
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
  for (let i = 0; i < plan.length; i++) out[i] = kvmStatSample(plan[i]!, values);
  return out;
}

/**
 * kvmStatSamples for one stats fd across samples: a stat whose words are those of the previous
 * sample gives the previous StatSample object again (samples are immutable, sample.ts), so an
 * idle vCPU costs a compare of its data block, not a BigInt and an object per stat.
 */
export class KvmStatSampler {
  readonly #plan: StatTemplate[];
  readonly #last: (StatSample | undefined)[];
  readonly #lastWords: Uint32Array;
  #words: Uint32Array | undefined;
  #wordsOf: ArrayBufferLike | undefined;

  constructor(readonly layout: KvmStatsLayout) {
    this.#plan = kvmStatPlan(layout);
    this.#last = new Array(this.#plan.length).fill(undefined);
    this.#lastWords = new Uint32Array(2 * Math.ceil(layout.dataSize / 8));
  }

  /** The samples of a data block read with this sampler's layout. */
  samples(values: BigUint64Array): StatSample[] {
    if (this.#wordsOf !== values.buffer || this.#words?.byteOffset !== values.byteOffset) {
      this.#words = new Uint32Array(values.buffer, values.byteOffset, 2 * values.length);
      this.#wordsOf = values.buffer;
    }
    const words = this.#words!;
    const lastWords = this.#lastWords;
    const plan = this.#plan;
    const last = this.#last;
    const out: StatSample[] = new Array(plan.length);
    for (let i = 0; i < plan.length; i++) {
      const t = plan[i]!;
      const from = 2 * t.word;
      const n = 2 * (t.base.histogram ? t.size : 1);
      let same = last[i] !== undefined;
      for (let k = 0; same && k < n; k++) same = words[from + k] === lastWords[from + k];
      if (same) {
        out[i] = last[i]!;
        continue;
      }
      const made = kvmStatSample(t, values);
      for (let k = 0; k < n; k++) lastWords[from + k] = words[from + k]!;
      last[i] = made;
      out[i] = made;
    }
    return out;
  }
}

function kvmStatSample(t: StatTemplate, values: BigUint64Array): StatSample {
  const { base, word, size, bucketsOmitted } = t;
  const s: StatSample = { name: base.name, kind: base.kind, unit: base.unit, origin: base.origin, help: base.help };
  if (base.histogram) {
    s.histogram = base.histogram;
    if (!bucketsOmitted) {
      const buckets: bigint[] = new Array(size);
      for (let k = 0; k < size; k++) buckets[k] = values[word + k]!;
      s.buckets = buckets;
    }
  } else s.value = values[word]!;
  return s;
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

/** A stats-table counter's sample without its value: name `<group>.<counter>`, kind, unit and field identity. */
export function tableStatTemplate(
  group: string,
  counter: Pick<DecodedCounter, 'name' | 'id' | 'field'>,
): Omit<StatSample, 'value' | 'buckets'> {
  return {
    name: `${group}.${counter.name}`,
    ...fieldKind(counter.field),
    unit: fieldScale(counter.field),
    origin: 'vmm',
    field: counter.id,
    help: counter.field.doc,
  };
}

/**
 * The counters of decoded stats-table groups, named `<group>.<counter>` (for people) and carrying
 * their field identity (for top's columns). Groups that are not 'ok' (inactive, absent, torn,
 * invalid) and counters marked inactive are left out. (AttachSession samples tables through
 * TableSamplePlan, table-samples.ts, which gives the same samples without decoding the table.)
 */
export function tableStatSamples(groups: readonly DecodedGroup[]): StatSample[] {
  const out: StatSample[] = [];
  for (const g of groups) {
    if (g.state !== 'ok') continue;
    for (const c of g.counters) {
      if (c.state !== 'value') continue;
      const sample: StatSample = tableStatTemplate(g.name, c);
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
