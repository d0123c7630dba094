/**
 * The exporter's own metrics (hvkit_export_*): scrapes, rejected scrapes, sample errors, series
 * exported and dropped, VMs, and the time each collection took as a log2 histogram of
 * nanoseconds (the same shape as KVM's, so it is a native histogram too).
 */
import type { MetricFamily } from '../../formats/exposition/model.ts';

/** Collection time buckets: bucket i ≥ 1 counts 2^(i-1) ≤ ns < 2^i; 2^40 ns is about 18 minutes. */
const DURATION_BUCKETS = 41;

export class ExportStats {
  scrapes = 0n;
  rejected = 0n;
  sampleErrors = 0n;
  series = 0;
  vms = 0;
  readonly durationBuckets: bigint[] = new Array(DURATION_BUCKETS).fill(0n);
  readonly startMs: number;

  constructor(startMs: number) {
    this.startMs = startMs;
  }

  observeDuration(ns: bigint): void {
    const i = ns <= 0n ? 0 : Math.min(DURATION_BUCKETS - 1, ns.toString(2).length);
    this.durationBuckets[i]!++;
  }

  families(droppedByLimit: bigint, droppedByConflict: bigint): MetricFamily[] {
    const startMs = this.startMs;
    const plain = { base: 10, exponent: 0 } as const;
    const counter = (name: string, help: string, value: bigint): MetricFamily => ({
      name,
      help,
      type: 'counter',
      unit: '',
      scale: plain,
      points: [{ labels: [], value, startMs }],
    });
    const gauge = (name: string, help: string, value: number): MetricFamily => ({
      name,
      help,
      type: 'gauge',
      unit: '',
      scale: plain,
      points: [{ labels: [], value: BigInt(value), startMs }],
    });
    return [
      counter(
        'hvkit_export_scrapes',
        'Collections made for scrapes and the web view (concurrent ones share one)',
        this.scrapes,
      ),
      counter(
        'hvkit_export_scrapes_rejected',
        'Scrapes answered 503 because too many were already waiting',
        this.rejected,
      ),
      counter('hvkit_export_sample_errors', 'Collections whose host sample failed (answered 503)', this.sampleErrors),
      {
        name: 'hvkit_export_series_dropped',
        help: 'Series left out: over --max-series (limit) or a name taken with another type or unit (conflict)',
        type: 'counter',
        unit: '',
        scale: plain,
        points: [
          { labels: [['reason', 'limit']], value: droppedByLimit, startMs },
          { labels: [['reason', 'conflict']], value: droppedByConflict, startMs },
        ],
      },
      gauge('hvkit_export_series', 'VM and vCPU series in the last collection', this.series),
      gauge('hvkit_export_vms', 'VMs in the last collection', this.vms),
      {
        name: 'hvkit_export_collection_duration_nanoseconds',
        help: 'Time to sample the host and map it to series, per collection (log2 buckets)',
        type: 'histogram',
        unit: 'nanoseconds',
        scale: plain,
        shape: { kind: 'log2' },
        points: [{ labels: [], histogram: { buckets: [...this.durationBuckets] }, startMs }],
      },
    ];
  }
}
