/**
 * OTLP metrics: an `ExportMetricsServiceRequest` (opentelemetry.proto.collector.metrics.v1) in
 * protobuf, the body of an OTLP/HTTP push, from the exposition model (model.ts). Field numbers
 * follow the official opentelemetry-proto files (collector/metrics/v1, metrics/v1, resource/v1,
 * common/v1); see the FIELD tables below.
 *
 * Mapping:
 * - Points are grouped into one ResourceMetrics per distinct set of resource-level labels (the
 *   caller's mapping says which labels those are, e.g. the VM identity); the other labels stay on
 *   the data point as string attributes. Each ResourceMetrics has one ScopeMetrics.
 * - counter → Sum, CUMULATIVE, monotonic, start time from the point's startMs.
 * - gauge → Gauge.
 * - log2 histogram → ExponentialHistogram, scale 0 (index k covers (2^k, 2^(k+1)]): the producer's
 *   bucket i ≥ 1 (integers 2^(i-1) ≤ v < 2^i) becomes index i − 1 (shifted by the family's
 *   exponent when its base is 2), bucket 0 becomes zero_count with zero_threshold 0. Exact except
 *   that the single integer 2^(i-1) lands one bucket up (OTLP's buckets are upper-inclusive) and
 *   that the producer's last bucket, which also counts everything above it, stays the last index.
 *   Leading and trailing empty buckets are not sent (offset says where the first one is).
 * - linear histogram → Histogram with explicit bounds ((i + 1) × size − 1) × scale: OTLP bounds are
 *   upper-inclusive, so for integer observations bucket i of [i × size, (i + 1) × size) is exactly
 *   (i × size − 1, (i + 1) × size − 1]; the producer's last bucket becomes the +Inf bucket.
 * - count = the sum of the buckets; sum only when the producer keeps one (KVM does not; the field
 *   is `optional double sum`, so its absence is visible, not a zero).
 * - Values: as_int (sfixed64) when the scaled value is an integer that fits an int64, else
 *   as_double (correctly rounded from the exact raw × scale).
 * - Metric name: the model's (Prometheus-style) name, so a collector's Prometheus exporter ends up
 *   with the same names as hvkit's own endpoint; unit as UCUM ('s', 'By', 'ns').
 */
import { InternalError } from '../../errors.ts';
import type { Exposition, Label, MetricFamily, MetricPoint, Scale } from './model.ts';
import { ProtoWriter } from './protobuf-writer.ts';

/** An attribute value: string, int (int64) or bool, as OTLP's AnyValue holds them. */
export type OtlpAttributeValue = string | bigint | boolean;
export type OtlpAttribute = readonly [key: string, value: OtlpAttributeValue];

export interface OtlpResourceMapping {
  /**
   * The resource attribute a point label becomes, or undefined for a label that stays on the
   * data point. Points whose resource attributes are equal share one ResourceMetrics.
   */
  resourceAttribute(label: Label): OtlpAttribute | undefined;
  /** Attributes every resource carries, before the label-derived ones (e.g. host.name). */
  common?: readonly OtlpAttribute[];
  /** More attributes for one resource, given its label-derived ones (e.g. from process.pid). */
  extra?(resource: readonly OtlpAttribute[]): readonly OtlpAttribute[];
}

export interface OtlpOptions {
  resource: OtlpResourceMapping;
  scope: { name: string; version: string };
}

// Field numbers of the official .proto files.
const REQUEST = { resourceMetrics: 1 } as const; // ExportMetricsServiceRequest
const RESOURCE_METRICS = { resource: 1, scopeMetrics: 2 } as const;
const RESOURCE = { attributes: 1 } as const;
const SCOPE_METRICS = { scope: 1, metrics: 2 } as const;
const SCOPE = { name: 1, version: 2 } as const; // InstrumentationScope
const KEY_VALUE = { key: 1, value: 2 } as const;
const ANY_VALUE = { string: 1, bool: 2, int: 3 } as const;
const METRIC = { name: 1, description: 2, unit: 3, gauge: 5, sum: 7, histogram: 9, exponentialHistogram: 10 } as const;
const GAUGE = { dataPoints: 1 } as const;
const SUM = { dataPoints: 1, aggregationTemporality: 2, isMonotonic: 3 } as const;
const HISTOGRAM = { dataPoints: 1, aggregationTemporality: 2 } as const;
const EXPONENTIAL_HISTOGRAM = HISTOGRAM; // the same field numbers
const NUMBER_POINT = { startTime: 2, time: 3, asDouble: 4, asInt: 6, attributes: 7 } as const;
const HISTOGRAM_POINT = {
  startTime: 2,
  time: 3,
  count: 4,
  sum: 5,
  bucketCounts: 6,
  explicitBounds: 7,
  attributes: 9,
} as const;
const EXP_HISTOGRAM_POINT = {
  attributes: 1,
  startTime: 2,
  time: 3,
  count: 4,
  sum: 5,
  scale: 6,
  zeroCount: 7,
  positive: 8,
  zeroThreshold: 14,
} as const;
const BUCKETS = { offset: 1, bucketCounts: 2 } as const;
const AGGREGATION_TEMPORALITY_CUMULATIVE = 2n;

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;
/** Beyond this a power of the base is not expanded into a bigint (a hostile exponent could ask for 10^32767). */
const MAX_EXACT_EXPONENT = 64;

/** UCUM spellings of the model's units (OTLP's `unit` field); others pass through. */
const UCUM: Record<string, string> = {
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'us',
  nanoseconds: 'ns',
  bytes: 'By',
};

export function encodeOtlpMetrics(exposition: Exposition, options: OtlpOptions): Uint8Array {
  const timeNs = epochNanos(exposition.atMs);
  const w = new ProtoWriter();
  for (const group of groupByResource(exposition.families, options.resource)) {
    const resourceMetrics = w.begin(REQUEST.resourceMetrics);
    const resource = w.begin(RESOURCE_METRICS.resource);
    for (const attribute of group.attributes) writeKeyValue(w, RESOURCE.attributes, attribute);
    w.end(resource);
    const scopeMetrics = w.begin(RESOURCE_METRICS.scopeMetrics);
    const scope = w.begin(SCOPE_METRICS.scope);
    w.stringField(SCOPE.name, options.scope.name);
    w.stringField(SCOPE.version, options.scope.version);
    w.end(scope);
    for (const { family, points } of group.metrics) writeMetric(w, family, points, timeNs);
    w.end(scopeMetrics);
    w.end(resourceMetrics);
  }
  return w.finish();
}

/** A point with its resource-level labels taken off. */
interface ResourcePoint {
  point: MetricPoint;
  labels: readonly Label[];
}

interface ResourceGroup {
  attributes: readonly OtlpAttribute[];
  metrics: { family: MetricFamily; points: ResourcePoint[] }[];
}

/** One group per distinct set of resource attributes, in the order they first appear. */
function groupByResource(families: readonly MetricFamily[], mapping: OtlpResourceMapping): ResourceGroup[] {
  const groups = new Map<string, ResourceGroup>();
  for (const family of families) {
    for (const point of family.points) {
      const fromLabels: OtlpAttribute[] = [];
      const labels: Label[] = [];
      for (const label of point.labels) {
        const attribute = mapping.resourceAttribute(label);
        if (attribute === undefined) labels.push(label);
        else fromLabels.push(attribute);
      }
      const key = JSON.stringify(fromLabels.map(([k, v]) => [k, typeof v, String(v)]));
      let group = groups.get(key);
      if (group === undefined) {
        const extra = mapping.extra?.(fromLabels) ?? [];
        group = { attributes: [...(mapping.common ?? []), ...fromLabels, ...extra], metrics: [] };
        groups.set(key, group);
      }
      let metric = group.metrics.at(-1);
      if (metric?.family !== family) {
        metric = { family, points: [] };
        group.metrics.push(metric);
      }
      metric.points.push({ point, labels });
    }
  }
  return [...groups.values()];
}

function writeMetric(w: ProtoWriter, family: MetricFamily, points: readonly ResourcePoint[], timeNs: bigint): void {
  const metric = w.begin(SCOPE_METRICS.metrics);
  w.stringField(METRIC.name, family.name);
  if (family.help !== '') w.stringField(METRIC.description, family.help);
  const unit = UCUM[family.unit] ?? family.unit;
  if (unit !== '') w.stringField(METRIC.unit, unit);
  switch (family.type) {
    case 'counter': {
      const sum = w.begin(METRIC.sum);
      for (const p of points) writeNumberPoint(w, SUM.dataPoints, family, p, timeNs);
      w.uint64Field(SUM.aggregationTemporality, AGGREGATION_TEMPORALITY_CUMULATIVE);
      w.boolField(SUM.isMonotonic, true);
      w.end(sum);
      break;
    }
    case 'gauge': {
      const gauge = w.begin(METRIC.gauge);
      for (const p of points) writeNumberPoint(w, GAUGE.dataPoints, family, p, timeNs);
      w.end(gauge);
      break;
    }
    case 'histogram': {
      const shape = family.shape;
      if (shape === undefined) throw new InternalError(`histogram family ${family.name} has no shape`);
      const histogram = w.begin(shape.kind === 'log2' ? METRIC.exponentialHistogram : METRIC.histogram);
      for (const p of points) {
        if (shape.kind === 'log2') writeExponentialPoint(w, family, p, timeNs);
        else writeExplicitPoint(w, family, p, shape.bucketSize, timeNs);
      }
      w.uint64Field(HISTOGRAM.aggregationTemporality, AGGREGATION_TEMPORALITY_CUMULATIVE);
      w.end(histogram);
      break;
    }
  }
  w.end(metric);
}

function writeNumberPoint(
  w: ProtoWriter,
  field: number,
  family: MetricFamily,
  { point, labels }: ResourcePoint,
  timeNs: bigint,
): void {
  if (point.value === undefined) throw new InternalError(`${family.type} ${family.name} has a point without a value`);
  const out = w.begin(field);
  if (family.type === 'counter') w.fixed64Field(NUMBER_POINT.startTime, epochNanos(point.startMs));
  w.fixed64Field(NUMBER_POINT.time, timeNs);
  const value = scaled(point.value, family.scale);
  if (typeof value === 'bigint') w.sfixed64Field(NUMBER_POINT.asInt, value);
  else w.doubleField(NUMBER_POINT.asDouble, value);
  for (const label of labels) writeKeyValue(w, NUMBER_POINT.attributes, label);
  w.end(out);
}

function histogramOf(family: MetricFamily, point: MetricPoint) {
  if (point.histogram === undefined) throw new InternalError(`histogram ${family.name} has a point without buckets`);
  return point.histogram;
}

function writeExponentialPoint(
  w: ProtoWriter,
  family: MetricFamily,
  { point, labels }: ResourcePoint,
  timeNs: bigint,
): void {
  const { buckets, sum } = histogramOf(family, point);
  const out = w.begin(EXPONENTIAL_HISTOGRAM.dataPoints);
  for (const label of labels) writeKeyValue(w, EXP_HISTOGRAM_POINT.attributes, label);
  w.fixed64Field(EXP_HISTOGRAM_POINT.startTime, epochNanos(point.startMs));
  w.fixed64Field(EXP_HISTOGRAM_POINT.time, timeNs);
  w.fixed64Field(EXP_HISTOGRAM_POINT.count, total(buckets));
  if (sum !== undefined) w.doubleField(EXP_HISTOGRAM_POINT.sum, toDouble(sum, family.scale));
  w.sint32Field(EXP_HISTOGRAM_POINT.scale, 0);
  w.fixed64Field(EXP_HISTOGRAM_POINT.zeroCount, buckets[0] ?? 0n);
  const positive = exponentialBuckets(buckets, family.scale);
  if (positive !== undefined) {
    const mark = w.begin(EXP_HISTOGRAM_POINT.positive);
    w.sint32Field(BUCKETS.offset, positive.offset);
    w.packedUint64(BUCKETS.bucketCounts, positive.counts);
    w.end(mark);
  }
  w.doubleField(EXP_HISTOGRAM_POINT.zeroThreshold, 0);
  w.end(out);
}

/**
 * The positive buckets of a log2 histogram at scale 0, without leading and trailing empty ones;
 * undefined when all are empty. Exported for tests and other encoders.
 */
export function exponentialBuckets(
  buckets: readonly bigint[],
  scale: Scale,
): { offset: number; counts: bigint[] } | undefined {
  let first = 1;
  while (first < buckets.length && buckets[first] === 0n) first++;
  let end = buckets.length;
  while (end > first && buckets[end - 1] === 0n) end--;
  if (first >= end) return undefined;
  // Bucket i ≥ 1 covers raw [2^(i-1), 2^i); in the family's unit that is multiplied by 2^exponent
  // when the base is 2 (the model keeps log2 families at base 2 or exponent 0).
  const shift = scale.base === 2 ? scale.exponent : 0;
  if (scale.base !== 2 && scale.exponent !== 0) {
    throw new InternalError(
      `a log2 histogram's scale must be base 2 or exponent 0, got ${scale.base}^${scale.exponent}`,
    );
  }
  return { offset: first - 1 + shift, counts: buckets.slice(first, end) };
}

function writeExplicitPoint(
  w: ProtoWriter,
  family: MetricFamily,
  { point, labels }: ResourcePoint,
  bucketSize: bigint,
  timeNs: bigint,
): void {
  const { buckets, sum } = histogramOf(family, point);
  const out = w.begin(HISTOGRAM.dataPoints);
  w.fixed64Field(HISTOGRAM_POINT.startTime, epochNanos(point.startMs));
  w.fixed64Field(HISTOGRAM_POINT.time, timeNs);
  w.fixed64Field(HISTOGRAM_POINT.count, total(buckets));
  if (sum !== undefined) w.doubleField(HISTOGRAM_POINT.sum, toDouble(sum, family.scale));
  w.packedFixed64(HISTOGRAM_POINT.bucketCounts, buckets);
  w.packedDouble(HISTOGRAM_POINT.explicitBounds, explicitBounds(buckets.length, bucketSize, family.scale));
  for (const label of labels) writeKeyValue(w, HISTOGRAM_POINT.attributes, label);
  w.end(out);
}

/** Upper-inclusive bounds of a linear histogram of integers: ((i + 1) × size − 1) × scale, one fewer than the buckets. */
export function explicitBounds(bucketCount: number, bucketSize: bigint, scale: Scale): number[] {
  const bounds: number[] = [];
  for (let i = 1; i < bucketCount; i++) bounds.push(toDouble(BigInt(i) * bucketSize - 1n, scale));
  return bounds;
}

function total(buckets: readonly bigint[]): bigint {
  let count = 0n;
  for (const b of buckets) count += b;
  // Counts are u64 each; a sum past 2^64 − 1 cannot be sent exactly, so it saturates.
  return count > U64_MAX ? U64_MAX : count;
}

function writeKeyValue(w: ProtoWriter, field: number, [key, value]: OtlpAttribute): void {
  const keyValue = w.begin(field);
  w.stringField(KEY_VALUE.key, key);
  const any = w.begin(KEY_VALUE.value);
  if (typeof value === 'string') w.stringField(ANY_VALUE.string, value);
  else if (typeof value === 'boolean') w.boolField(ANY_VALUE.bool, value);
  else w.int64Field(ANY_VALUE.int, value);
  w.end(any);
  w.end(keyValue);
}

/**
 * raw × base^exponent as an int64 when it is an integer in range (sent as as_int, exact), else as
 * a double, correctly rounded.
 */
export function scaled(raw: bigint, scale: Scale): bigint | number {
  if (Math.abs(scale.exponent) <= MAX_EXACT_EXPONENT) {
    const factor = BigInt(scale.base) ** BigInt(Math.abs(scale.exponent));
    if (scale.exponent >= 0) {
      const v = raw * factor;
      if (v >= I64_MIN && v <= I64_MAX) return v;
    } else if (raw % factor === 0n) {
      const v = raw / factor;
      if (v >= I64_MIN && v <= I64_MAX) return v;
    }
  }
  return toDouble(raw, scale);
}

/** raw × base^exponent as the nearest double. */
export function toDouble(raw: bigint, scale: Scale): number {
  // The decimal literal is rounded once, correctly, by the number parser; a power of two scales exactly.
  if (scale.base === 10) return Number(`${raw}e${scale.exponent}`);
  return Number(raw) * 2 ** scale.exponent;
}

/** Nanoseconds since the epoch from milliseconds, without the double losing the low digits. */
export function epochNanos(ms: number): bigint {
  if (!Number.isFinite(ms) || ms < 0) throw new InternalError(`time ${ms} ms is not a time since the epoch`);
  const whole = Math.trunc(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}
