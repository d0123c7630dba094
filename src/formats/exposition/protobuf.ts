/**
 * Prometheus protobuf exposition: a stream of io.prometheus.client.MetricFamily messages, each
 * preceded by its varint length ("encoding=delimited"), as Prometheus asks for when native
 * histograms are on.
 *
 * Counters carry their `_total` in the family name (as client_golang writes them). Histograms
 * carry the classic buckets (buckets.ts) and, for log2 histograms whose unit keeps powers of two,
 * the native schema-0 fields: zero_threshold, zero_count, positive spans and delta-encoded counts.
 * The zero threshold is 2^-128 (client_golang's default), not 0: observations are integers, so
 * the zero bucket [-2^-128, 2^-128] still holds exactly the zeros, and a threshold above 0 is how
 * every Prometheus since 2.40 tells a native histogram from a classic one — with 0, a histogram
 * that has seen nothing yet (KVM's halt polling histograms of a VM that never polls) was stored
 * as classic series by Prometheus 2.42, and would switch to native at its first observation.
 * It also writes one empty span then, for readers that look at spans.
 * KVM keeps no sum: sample_sum is then absent (0).
 */
import { classicBounds, nativeBuckets, nativeShift, totalCount } from './buckets.ts';
import { scaledNumber } from './decimal.ts';
import type { Exposition, Label, MetricFamily, MetricPoint } from './model.ts';
import { ProtoWriter } from './protobuf-writer.ts';

/** 2^-128: the zero bucket's half-width (see the file comment). */
export const NATIVE_ZERO_THRESHOLD = 2 ** -128;

export const PROTOBUF_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

// io.prometheus.client field numbers (metrics.proto).
const F = {
  FamilyName: 1,
  FamilyHelp: 2,
  FamilyType: 3,
  FamilyMetric: 4,
  MetricLabel: 1,
  MetricGauge: 2,
  MetricCounter: 3,
  MetricHistogram: 7,
  LabelName: 1,
  LabelValue: 2,
  Value: 1,
  HistCount: 1,
  HistSum: 2,
  HistBucket: 3,
  HistSchema: 5,
  HistZeroThreshold: 6,
  HistZeroCount: 7,
  HistPositiveSpan: 12,
  HistPositiveDelta: 13,
  BucketCumulative: 1,
  BucketUpperBound: 2,
  SpanOffset: 1,
  SpanLength: 2,
} as const;

const TYPE_CODE = { counter: 0, gauge: 1, histogram: 4 } as const;

/** The encoded label fields of a label array, once per array (the exporter shares them between series). */
const labelCache = new WeakMap<readonly Label[], Uint8Array>();

function writeLabels(w: ProtoWriter, p: MetricPoint): void {
  let bytes = labelCache.get(p.labels);
  if (!bytes) {
    const lw = new ProtoWriter(256);
    for (const [name, value] of p.labels) {
      const m = lw.begin(F.MetricLabel);
      lw.stringField(F.LabelName, name);
      lw.stringField(F.LabelValue, value);
      lw.end(m);
    }
    bytes = lw.finish();
    labelCache.set(p.labels, bytes);
  }
  w.raw(bytes);
}

function writeHistogram(w: ProtoWriter, family: MetricFamily, p: MetricPoint, bounds: number[]): void {
  const h = p.histogram!;
  const m = w.begin(F.MetricHistogram);
  w.uint64Field(F.HistCount, totalCount(h.buckets));
  if (h.sum !== undefined) w.doubleField(F.HistSum, scaledNumber(h.sum, family.scale));
  let cumulative = 0n;
  // The last bucket is +Inf: implicit in protobuf (sample_count), so it is not written.
  for (let i = 0; i < h.buckets.length - 1; i++) {
    cumulative += h.buckets[i]!;
    const b = w.begin(F.HistBucket);
    w.uint64Field(F.BucketCumulative, cumulative);
    w.doubleField(F.BucketUpperBound, bounds[i]!);
    w.end(b);
  }
  const shift = nativeShift(family.shape, family.scale);
  if (shift !== undefined) {
    const native = nativeBuckets(h.buckets, shift);
    w.tag(F.HistSchema, 0);
    w.sint(0);
    w.doubleField(F.HistZeroThreshold, NATIVE_ZERO_THRESHOLD);
    w.uint64Field(F.HistZeroCount, native.zeroCount);
    const spans = native.spans.length > 0 ? native.spans : [[0, 0] as [number, number]];
    for (const [offset, length] of spans) {
      const s = w.begin(F.HistPositiveSpan);
      w.tag(F.SpanOffset, 0);
      w.sint(offset);
      if (length !== 0) {
        w.tag(F.SpanLength, 0);
        w.varint(length);
      }
      w.end(s);
    }
    if (native.counts.length > 0) {
      const d = w.begin(F.HistPositiveDelta);
      let previous = 0n;
      for (const c of native.counts) {
        w.sintBig(c - previous);
        previous = c;
      }
      w.end(d);
    }
  }
  w.end(m);
}

function writeFamily(w: ProtoWriter, family: MetricFamily): void {
  if (family.points.length === 0) return;
  const delimited = w.begin();
  w.stringField(F.FamilyName, family.type === 'counter' ? `${family.name}_total` : family.name);
  if (family.help !== '') w.stringField(F.FamilyHelp, family.help);
  w.tag(F.FamilyType, 0);
  w.varint(TYPE_CODE[family.type]);
  let bounds: number[] | undefined;
  let boundsFor = -1;
  for (const p of family.points) {
    if (family.type === 'histogram') {
      const h = p.histogram;
      if (!h || h.buckets.length === 0) continue;
      if (boundsFor !== h.buckets.length) {
        const shape = family.shape ?? { kind: 'log2' as const };
        bounds = classicBounds(shape, h.buckets.length).map((b) =>
          b === null ? Number.POSITIVE_INFINITY : scaledNumber(b, family.scale),
        );
        boundsFor = h.buckets.length;
      }
      const m = w.begin(F.FamilyMetric);
      writeLabels(w, p);
      writeHistogram(w, family, p, bounds!);
      w.end(m);
      continue;
    }
    if (p.value === undefined) continue;
    const m = w.begin(F.FamilyMetric);
    writeLabels(w, p);
    const v = w.begin(family.type === 'counter' ? F.MetricCounter : F.MetricGauge);
    w.doubleField(F.Value, scaledNumber(p.value, family.scale));
    w.end(v);
    w.end(m);
  }
  w.end(delimited);
}

/** The families as a delimited protobuf stream. */
export function encodeProtobuf(exposition: Exposition, writer = new ProtoWriter()): Uint8Array {
  for (const f of exposition.families) writeFamily(writer, f);
  return writer.finish();
}
