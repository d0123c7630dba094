/**
 * Percentiles of histogram statistics, for the last interval (bucket counts gathered since the
 * previous sample) and overall (the cumulative buckets), shown with the stat's unit.
 */
import {
  type HistogramKind,
  type HistogramSummary,
  type Percentile,
  summarizeHistogram,
} from '../../stats/histogram.ts';
import { scaleValue, toNumber, type UnitScale } from '../../stats/units.ts';

export interface HistogramView {
  kind: HistogramKind;
  bucketSize: number;
  unit: UnitScale;
  interval?: HistogramSummary;
  overall: HistogramSummary;
}

/** Adds histograms bucket by bucket (vCPUs of one VM); a shorter one counts as zeros. */
export function sumBuckets(histograms: readonly (readonly bigint[])[]): bigint[] {
  const length = Math.max(0, ...histograms.map((h) => h.length));
  const out = new Array<bigint>(length).fill(0n);
  for (const h of histograms) for (let i = 0; i < h.length; i++) out[i]! += h[i]!;
  return out;
}

export function histogramView(
  kind: HistogramKind,
  bucketSize: number,
  unit: UnitScale,
  overall: readonly bigint[],
  interval?: readonly bigint[],
): HistogramView {
  return {
    kind,
    bucketSize,
    unit,
    overall: summarizeHistogram(kind, overall, bucketSize),
    interval: interval ? summarizeHistogram(kind, interval, bucketSize) : undefined,
  };
}

/**
 * A percentile as the bucket it falls in: "<1.024 µs" (below the bucket's exclusive upper bound),
 * "≥2.147 s" for the open last bucket, "-" when the histogram is empty.
 */
export function formatPercentile(p: Percentile | undefined, unit: UnitScale): string {
  if (!p) return '-';
  if (p.upper === null) return `≥${scaleValue(p.lower, unit).text}`;
  return `<${scaleValue(p.upper, unit).text}`;
}

/** A sortable number for a percentile: its bucket's upper bound (lower for the open bucket) in base units. */
export function percentileSortValue(p: Percentile | undefined, unit: UnitScale): number | undefined {
  if (!p) return undefined;
  return toNumber(p.upper ?? p.lower, unit);
}
