/**
 * Metrics as every exposition format renders them — Prometheus text 0.0.4, OpenMetrics 1.0 text,
 * Prometheus protobuf (with native histograms) and OTLP. Knows nothing of where the numbers come
 * from: the exporter maps an attach session's samples onto this model; the encoders next to this
 * file render it.
 *
 * Values stay exact: a point holds the producer's raw u64 and its family says how to scale it
 * (raw × base^exponent in the family's unit), so a text encoder can print an exact decimal and
 * only binary formats round to a double.
 *
 * Histograms keep their buckets as the producer counted them:
 * - log2 (KVM's LOG_HIST, hvkit's log-hist): bucket 0 counts the value 0; bucket i ≥ 1 counts the
 *   integer values v with 2^(i-1) ≤ v < 2^i, i.e. 2^(i-1) ≤ v ≤ 2^i − 1; the last bucket also
 *   counts everything above it (the kernel clamps the index). In the family's unit the bounds are
 *   multiplied by base^exponent; a family of a log2 histogram has base 2 or exponent 0, so
 *   bounds stay powers of two (see `shift`).
 * - linear (KVM's LINEAR_HIST): bucket i counts values in [i × size, (i + 1) × size); the last
 *   also counts everything above it.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** raw × base^exponent = the value in the family's unit. */
export interface Scale {
  base: 10 | 2;
  exponent: number;
}

export type Label = readonly [name: string, value: string];

export type HistogramShape = { kind: 'log2' } | { kind: 'linear'; bucketSize: bigint };

export interface HistogramValue {
  /** Counts per bucket as the producer keeps them (see the file comment), exact. */
  buckets: readonly bigint[];
  /** Sum of the observations in raw units, when the producer keeps one (KVM does not). */
  sum?: bigint;
}

export interface MetricPoint {
  /** Label pairs, names valid for Prometheus ([a-zA-Z_][a-zA-Z0-9_]*), in the order to render. */
  labels: readonly Label[];
  /** Counters and gauges: the raw value. */
  value?: bigint;
  /** Histograms. */
  histogram?: HistogramValue;
  /**
   * Milliseconds since the epoch when this series started counting from zero (OpenMetrics
   * `_created`, OTLP start time); a counter that went down (a reset) starts again at its reset.
   */
  startMs: number;
}

export interface MetricFamily {
  /**
   * Prometheus name without the `_total` of counters (encoders add it where the format wants it),
   * ending with the unit when there is one, e.g. `hvkit_vcpu_halt_wait_seconds`.
   */
  name: string;
  /** One line, any UTF-8 (encoders escape it). */
  help: string;
  type: MetricType;
  /** The unit the name ends with ('seconds', 'bytes', 'nanoseconds', …), '' for none (OpenMetrics UNIT). */
  unit: string;
  scale: Scale;
  /** Histograms only. */
  shape?: HistogramShape;
  points: MetricPoint[];
}

/** What one collection produced: the families and the wall time of the sample they come from. */
export interface Exposition {
  families: MetricFamily[];
  /** Milliseconds since the epoch. */
  atMs: number;
}
