/**
 * Histogram bucket ranges and percentiles, shared by every statistics format.
 *
 * Bucket values are sample counts; the ranges are in the stat's raw unit
 * (scale them with units.ts). Ranges as the KVM documentation defines them:
 *  - linear, bucket size b, n buckets: bucket i covers [b·i, b·(i+1)); the
 *    last bucket is open: [b·(n-1), +∞).
 *  - log2, n buckets: bucket 0 holds the value 0, i.e. [0, 1); bucket i ≥ 1
 *    covers [2^(i-1), 2^i); the last bucket is open: [2^(n-2), +∞).
 */

export type HistogramKind = 'linear' | 'log2';

export interface BucketRange {
  index: number;
  /** Inclusive lower bound. */
  lower: bigint;
  /** Exclusive upper bound; null for the open last bucket. */
  upper: bigint | null;
}

export function bucketRange(
  kind: HistogramKind,
  index: number,
  count: number,
  bucketSize: bigint | number = 0n,
): BucketRange {
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`bucket ${index} out of [0, ${count})`);
  const last = index === count - 1;
  if (kind === 'linear') {
    const b = BigInt(bucketSize);
    return { index, lower: b * BigInt(index), upper: last ? null : b * BigInt(index + 1) };
  }
  if (index === 0) return { index, lower: 0n, upper: last ? null : 1n };
  return { index, lower: 1n << BigInt(index - 1), upper: last ? null : 1n << BigInt(index) };
}

export function bucketRanges(kind: HistogramKind, count: number, bucketSize: bigint | number = 0n): BucketRange[] {
  return Array.from({ length: count }, (_, i) => bucketRange(kind, i, count, bucketSize));
}

export interface Percentile extends BucketRange {
  /** The requested quantile, e.g. 0.99. */
  quantile: number;
}

/**
 * Nearest-rank percentile: the bucket holding the ⌈q·total⌉-th smallest
 * sample. The true value lies in [lower, upper) of that bucket. Undefined
 * for an empty histogram. Counts are summed exactly in bigint.
 */
export function percentile(
  kind: HistogramKind,
  counts: ArrayLike<bigint>,
  quantile: number,
  bucketSize: bigint | number = 0n,
): Percentile | undefined {
  if (!(quantile > 0 && quantile <= 1)) throw new RangeError(`quantile ${quantile} not in (0, 1]`);
  let total = 0n;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0n) return undefined;
  const rank = percentileRank(total, quantile);
  let seen = 0n;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return { quantile, ...bucketRange(kind, i, counts.length, bucketSize) };
  }
  return undefined; // unreachable: seen reaches total ≥ rank
}

/** The nearest rank of `quantile` among `total` (> 0) samples: ⌈q·total⌉, at least 1 (q in millionths). */
export function percentileRank(total: bigint, quantile: number): bigint {
  const ppm = BigInt(Math.round(quantile * 1_000_000));
  const rank = (total * ppm + 999_999n) / 1_000_000n;
  return rank < 1n ? 1n : rank;
}

export interface HistogramSummary {
  /** Total number of samples. */
  total: bigint;
  /** Buckets with at least one sample. */
  nonEmptyBuckets: number;
  p50?: Percentile;
  p90?: Percentile;
  p99?: Percentile;
}

export function summarizeHistogram(
  kind: HistogramKind,
  counts: ArrayLike<bigint>,
  bucketSize: bigint | number = 0n,
): HistogramSummary {
  let total = 0n;
  let nonEmptyBuckets = 0;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!;
    if (counts[i]! !== 0n) nonEmptyBuckets++;
  }
  const summary: HistogramSummary = { total, nonEmptyBuckets };
  if (total === 0n) return summary;
  summary.p50 = percentile(kind, counts, 0.5, bucketSize);
  summary.p90 = percentile(kind, counts, 0.9, bucketSize);
  summary.p99 = percentile(kind, counts, 0.99, bucketSize);
  return summary;
}
