/**
 * Renders a parsed stats file as rows of data (no terminal formatting): name,
 * type, unit-scaled value and histogram summary. Every field is a string,
 * number or plain object, so the result is JSON-serialisable as is (u64s are
 * decimal strings).
 */
import { bucketRange, type HistogramKind, type Percentile, summarizeHistogram } from '../../stats/histogram.ts';
import { scaleValue, type UnitKind, type UnitScale } from '../../stats/units.ts';
import { baseName, isHistogram, StatBase, StatType, typeName, UNIT_NAMES, unitName } from './constants.ts';
import { DataIndex, type WorkMeter } from './data-index.ts';
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
  /** Raw u64 items as decimal strings (one for a scalar); empty when itemsOmitted. */
  raw: string[];
  histogram?: HistogramRow;
  /** Set when the raw items and buckets were left out (see listingBudget): the summary is exact. */
  itemsOmitted?: true;
}

export interface KvmStatsDescription {
  id: string;
  header: KvmStatsHeader;
  dataSize: number;
  rows: KvmStatRow[];
  /** How many stats were described without their items (see listingBudget); absent when none. */
  itemsOmitted?: number;
}

/** Scale of a descriptor for units.ts; unknown units display as plain numbers. */
export function descriptorScale(d: KvmStatDescriptor): UnitScale {
  const unit = (UNIT_NAMES[d.unit] ?? 'none') as UnitKind;
  return { unit, base: d.base === StatBase.Pow2 ? 2 : 10, exponent: d.exponent };
}

/**
 * How many data items a description lists (raw items and buckets, over every stat): twice the
 * data block, and never less than 4096. A file whose stats do not share items lists at most the
 * block once, so it is always listed whole; stats piled on the same items (a hostile file) are
 * listed only until the listing reaches this bound, the rest summarised without their items —
 * so the work and the output stay linear in the file, not in what the overlaps multiply.
 */
export function listingBudget(dataWords: number): number {
  return Math.max(2 * dataWords, 4096);
}

export interface DescribeOptions {
  /** Counts the data items visited (tests bound it by the file's size). */
  meter?: WorkMeter;
}

export function describeKvmStats(
  layout: KvmStatsLayout,
  values: BigUint64Array,
  options: DescribeOptions = {},
): KvmStatsDescription {
  const tally = { omitted: 0 };
  const rows = Array.from(describeKvmStatRows(layout, values, options, tally));
  const description: KvmStatsDescription = {
    id: layout.id,
    header: { ...layout.header },
    dataSize: layout.dataSize,
    rows,
  };
  if (tally.omitted > 0) description.itemsOmitted = tally.omitted;
  return description;
}

/**
 * The rows of describeKvmStats one stat at a time, so a caller that writes each row out as it
 * comes (hvkit dump) holds one stat's items in memory, never the whole listing. `tally.omitted`
 * counts the stats described without their items, complete once the rows are exhausted.
 */
export function* describeKvmStatRows(
  layout: KvmStatsLayout,
  values: BigUint64Array,
  options: DescribeOptions = {},
  tally: { omitted: number } = { omitted: 0 },
): Generator<KvmStatRow> {
  const meter = options.meter;
  let budget = listingBudget(values.length);
  let index: DataIndex | undefined;
  for (const d of layout.descriptors) {
    const items = values.subarray(d.word, d.word + d.size);
    if (items.length <= 1 || items.length <= budget) {
      budget -= items.length;
      // summarizeHistogram passes over the items once for the total and once per percentile.
      if (meter) meter.items += items.length * (isHistogram(d.type) ? 5 : 1);
      yield describeStat(d, items);
      continue;
    }
    index ??= new DataIndex(values, meter);
    const row = describeStatSummary(d, items, index);
    if (row.itemsOmitted) tally.omitted++;
    yield row;
  }
}

function baseRow(d: KvmStatDescriptor): KvmStatRow {
  return {
    index: d.index,
    name: d.name,
    type: typeName(d.type),
    unit: unitName(d.unit),
    base: baseName(d.base),
    exponent: d.exponent,
    value: '',
    raw: [],
  };
}

function histogramKind(d: KvmStatDescriptor): HistogramKind {
  return d.type === StatType.LinearHist ? 'linear' : 'log2';
}

/** Histogram units apply to the bucket bounds; the items are sample counts. */
function boundScale(d: KvmStatDescriptor): UnitScale {
  const scale = descriptorScale(d);
  return scale.unit === 'boolean' ? { ...scale, unit: 'none' } : scale;
}

export function describeStat(d: KvmStatDescriptor, items: BigUint64Array): KvmStatRow {
  const row = baseRow(d);
  row.raw = Array.from(items, (v) => v.toString());
  if (isHistogram(d.type)) {
    const kind = histogramKind(d);
    const scale = boundScale(d);
    const s = summarizeHistogram(kind, items, d.bucketSize);
    const hist: HistogramRow = {
      kind,
      total: s.total.toString(),
      nonEmptyBuckets: s.nonEmptyBuckets,
      buckets: Array.from(items, (count, i) => ({
        ...bucketRow(kind, i, items.length, d.bucketSize, scale),
        count: count.toString(),
      })),
    };
    const percentileRow = (p: Percentile) => bucketRow(kind, p.index, items.length, d.bucketSize, scale);
    if (s.p50) hist.p50 = percentileRow(s.p50);
    if (s.p90) hist.p90 = percentileRow(s.p90);
    if (s.p99) hist.p99 = percentileRow(s.p99);
    row.histogram = hist;
    row.value = hist.total;
  } else {
    row.value = items.length === 0 ? '' : scaleValue(items[0]!, descriptorScale(d)).text;
  }
  return row;
}

/** A stat past the listing budget: its summary from the index, without its items. */
function describeStatSummary(d: KvmStatDescriptor, items: BigUint64Array, index: DataIndex): KvmStatRow {
  const row = baseRow(d);
  row.itemsOmitted = true;
  if (!isHistogram(d.type)) {
    row.value = scaleValue(items[0]!, descriptorScale(d)).text;
    return row;
  }
  const kind = histogramKind(d);
  const scale = boundScale(d);
  const s = index.summarize(d.word, d.size);
  const hist: HistogramRow = { kind, total: s.total.toString(), nonEmptyBuckets: s.nonEmptyBuckets, buckets: [] };
  const percentileRow = (i: number) => bucketRow(kind, i, d.size, d.bucketSize, scale);
  if (s.p50 !== undefined) hist.p50 = percentileRow(s.p50);
  if (s.p90 !== undefined) hist.p90 = percentileRow(s.p90);
  if (s.p99 !== undefined) hist.p99 = percentileRow(s.p99);
  row.histogram = hist;
  row.value = hist.total;
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
