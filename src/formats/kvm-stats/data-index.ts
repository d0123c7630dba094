/**
 * Histogram summaries over the data block in O(log n) each, whatever the histograms' sizes.
 *
 * Descriptors may point at the same items (a hostile file: thousands of 65535-bucket histograms
 * on top of each other). Summing each histogram's items would cost the sum of their sizes — the
 * overlap multiplied — instead of the file's size. Prefix sums over the data block, built once
 * (linear in the block), give any range's total and non-empty count in O(1) and a percentile's
 * bucket by binary search.
 */
import { percentileRank } from '../../stats/histogram.ts';

/** Counts work for tests that bound it: data items visited, summed over every pass. */
export interface WorkMeter {
  items: number;
}

export interface RangeSummary {
  total: bigint;
  nonEmptyBuckets: number;
  /** Bucket index (within the range) of each percentile; absent for an empty histogram. */
  p50?: number;
  p90?: number;
  p99?: number;
}

export class DataIndex {
  /** #sums[i]: sum of items [0, i). */
  readonly #sums: bigint[];
  /** #nonZero[i]: how many of items [0, i) are non-zero. */
  readonly #nonZero: Uint32Array;
  readonly #meter: WorkMeter | undefined;

  constructor(values: BigUint64Array, meter?: WorkMeter) {
    this.#meter = meter;
    this.#sums = new Array<bigint>(values.length + 1);
    this.#nonZero = new Uint32Array(values.length + 1);
    let sum = 0n;
    let nonZero = 0;
    this.#sums[0] = 0n;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      sum += v;
      if (v !== 0n) nonZero++;
      this.#sums[i + 1] = sum;
      this.#nonZero[i + 1] = nonZero;
    }
    if (meter) meter.items += values.length;
  }

  /** Total, non-empty buckets and percentile buckets of the `size` items from word `word`. */
  summarize(word: number, size: number): RangeSummary {
    const base = this.#sums[word]!;
    const total = this.#sums[word + size]! - base;
    const out: RangeSummary = { total, nonEmptyBuckets: this.#nonZero[word + size]! - this.#nonZero[word]! };
    if (total === 0n) return out;
    out.p50 = this.#bucketOfRank(word, size, percentileRank(total, 0.5));
    out.p90 = this.#bucketOfRank(word, size, percentileRank(total, 0.9));
    out.p99 = this.#bucketOfRank(word, size, percentileRank(total, 0.99));
    return out;
  }

  /** The first bucket i of the range whose running count (items word..word+i) reaches `rank`. */
  #bucketOfRank(word: number, size: number, rank: bigint): number {
    const base = this.#sums[word]!;
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#sums[word + mid + 1]! - base >= rank) hi = mid;
      else lo = mid + 1;
      if (this.#meter) this.#meter.items++;
    }
    return lo;
  }
}
