/**
 * A producer's histogram buckets (model.ts) as the two Prometheus histogram kinds:
 * - classic: cumulative counts at upper bounds `le`. Values are integers, so kernel log2 bucket i
 *   (2^(i-1) ≤ v ≤ 2^i − 1) ends at le = 2^i − 1 exactly, bucket 0 at le = 0, linear bucket i
 *   at le = (i + 1) × size − 1; the last bucket also counts everything above, so it is +Inf only.
 * - native (schema 0): bucket index j covers (2^(j-1), 2^j]; kernel bucket i ≥ 1 goes to index
 *   i + shift (exact except the single value 2^(i-1), one bucket up), bucket 0 to the zero bucket
 *   (threshold 0). Only log2 histograms whose unit keeps bounds powers of two have one.
 */
import type { HistogramShape, Scale } from './model.ts';

/** Raw upper bounds (null = +Inf), one per bucket. */
export function classicBounds(shape: HistogramShape, count: number): (bigint | null)[] {
  const out: (bigint | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    if (i === count - 1) out[i] = null;
    else if (shape.kind === 'log2') out[i] = (1n << BigInt(i)) - 1n;
    else out[i] = BigInt(i + 1) * shape.bucketSize - 1n;
  }
  return out;
}

/**
 * The native index of kernel bucket 1 minus one: raw 2^i in the family's unit is 2^(i + shift).
 * undefined when the scale does not keep powers of two (base 10 with a non-zero exponent).
 */
export function nativeShift(shape: HistogramShape | undefined, scale: Scale): number | undefined {
  if (shape?.kind !== 'log2') return undefined;
  if (scale.exponent === 0) return 0;
  return scale.base === 2 ? scale.exponent : undefined;
}

export interface NativeBuckets {
  zeroCount: bigint;
  /** [offset, length] pairs: the first offset is absolute, the others are gaps after the previous span. */
  spans: [number, number][];
  /** Absolute counts of the buckets the spans cover, in order (encoders delta-encode them). */
  counts: bigint[];
}

/** Native schema-0 buckets of a log2 histogram; empty buckets between spans are left out. */
export function nativeBuckets(buckets: readonly bigint[], shift: number): NativeBuckets {
  const spans: [number, number][] = [];
  const counts: bigint[] = [];
  let lastIndex: number | undefined;
  for (let i = 1; i < buckets.length; i++) {
    const c = buckets[i]!;
    if (c === 0n) continue;
    const index = i + shift;
    if (lastIndex !== undefined && index === lastIndex + 1) spans[spans.length - 1]![1]++;
    else spans.push([lastIndex === undefined ? index : index - lastIndex - 1, 1]);
    counts.push(c);
    lastIndex = index;
  }
  return { zeroCount: buckets[0] ?? 0n, spans, counts };
}

export function totalCount(buckets: readonly bigint[]): bigint {
  let n = 0n;
  for (const b of buckets) n += b;
  return n;
}
