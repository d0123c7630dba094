/**
 * Renders a parsed stats file as rows of data (no terminal formatting): name,
 * type, unit-scaled value and histogram summary. Every field is a string,
 * number or plain object, so the result is JSON-serialisable as is (u64s are
 * decimal strings).
 */
import { bucketRange, type HistogramKind, type Percentile, summarizeHistogram } from '../../tools/histogram.ts';
import { scaleValue, type UnitKind, type UnitScale } from '../../tools/units.ts';
import { baseName, isHistogram, StatBase, StatType, typeName, UNIT_NAMES, unitName } from './constants.ts';
import type { KvmStatDescriptor, KvmStatsHeader, KvmStatsLayout } from './types.ts';

export interface RangeRow {
  /** Raw inclusive lower bound. */
  lower: string;
  /** Raw exclusive upper bound; null when open. */
  upper: string | null;
  /** Unit-scaled, e.g. "[512 ns, 1.024 µs)" or "≥ 1.074 s". */
  text: string;
}

export interface HistogramRow {
  kind: HistogramKind;
  /** Samples counted. */
  total: string;
  nonEmptyBuckets: number;
  p50?: RangeRow;
  p90?: RangeRow;
  p99?: RangeRow;
  buckets: (RangeRow & { count: string })[];
}

export interface KvmStatRow {
  index: number;
  name: string;
  type: string;
  unit: string;
  base: string;
  exponent: number;
  /** Scalars: the scaled value ("1.5 ms"). Histograms: the sample count. */
  value: string;
  /** Raw u64 items as decimal strings (one for a scalar). */
  raw: string[];
  histogram?: HistogramRow;
}

export interface KvmStatsDescription {
  id: string;
  header: KvmStatsHeader;
  dataSize: number;
  rows: KvmStatRow[];
}

/** Scale of a descriptor for units.ts; unknown units display as plain numbers. */
export function descriptorScale(d: KvmStatDescriptor): UnitScale {
  const unit = (UNIT_NAMES[d.unit] ?? 'none') as UnitKind;
  return { unit, base: d.base === StatBase.Pow2 ? 2 : 10, exponent: d.exponent };
}

export function describeKvmStats(layout: KvmStatsLayout, values: BigUint64Array): KvmStatsDescription {
  return {
    id: layout.id,
    header: { ...layout.header },
    dataSize: layout.dataSize,
    rows: layout.descriptors.map((d) => describeStat(d, values.subarray(d.word, d.word + d.size))),
  };
}

export function describeStat(d: KvmStatDescriptor, items: BigUint64Array): KvmStatRow {
  const scale = descriptorScale(d);
  const row: KvmStatRow = {
    index: d.index,
    name: d.name,
    type: typeName(d.type),
    unit: unitName(d.unit),
    base: baseName(d.base),
    exponent: d.exponent,
    value: '',
    raw: Array.from(items, (v) => v.toString()),
  };
  if (isHistogram(d.type)) {
    const kind: HistogramKind = d.type === StatType.LinearHist ? 'linear' : 'log2';
    // Histogram units apply to the bucket bounds; the items are sample counts.
    const boundScale: UnitScale = scale.unit === 'boolean' ? { ...scale, unit: 'none' } : scale;
    const s = summarizeHistogram(kind, items, d.bucketSize);
    const hist: HistogramRow = {
      kind,
      total: s.total.toString(),
      nonEmptyBuckets: s.nonEmptyBuckets,
      buckets: Array.from(items, (count, i) => ({
        ...bucketRow(kind, i, items.length, d.bucketSize, boundScale),
        count: count.toString(),
      })),
    };
    const percentileRow = (p: Percentile) => bucketRow(kind, p.index, items.length, d.bucketSize, boundScale);
    if (s.p50) hist.p50 = percentileRow(s.p50);
    if (s.p90) hist.p90 = percentileRow(s.p90);
    if (s.p99) hist.p99 = percentileRow(s.p99);
    row.histogram = hist;
    row.value = hist.total;
  } else {
    row.value = items.length === 0 ? '' : scaleValue(items[0]!, scale).text;
  }
  return row;
}

/**
 * Log2 buckets from index 65 on start at 2^64 or more: no u64 sample can land
 * there, and a hostile 65535-bucket descriptor would otherwise cost giant
 * bigints. Their bounds are written as powers of two without computing them.
 */
const FIRST_UNREACHABLE_LOG2_BUCKET = 65;

function bucketRow(kind: HistogramKind, index: number, count: number, bucketSize: number, scale: UnitScale): RangeRow {
  if (kind === 'log2' && index >= FIRST_UNREACHABLE_LOG2_BUCKET) {
    const unit =
      scale.unit === 'none' || scale.unit === 'boolean' ? '' : ` × ${scale.base}^${scale.exponent} ${scale.unit}`;
    const lower = `2^${index - 1}`;
    const upper = index === count - 1 ? null : `2^${index}`;
    const text = upper === null ? `≥ ${lower}${unit}` : `[${lower}, ${upper})${unit}`;
    return { lower, upper, text };
  }
  const r = bucketRange(kind, index, count, bucketSize);
  const lower = scaleValue(r.lower, scale).text;
  const text = r.upper === null ? `≥ ${lower}` : `[${lower}, ${scaleValue(r.upper, scale).text})`;
  return { lower: r.lower.toString(), upper: r.upper === null ? null : r.upper.toString(), text };
}

/** JSON.stringify replacer that writes bigints as decimal strings. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
