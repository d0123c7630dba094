/**
 * The two text formats: Prometheus text 0.0.4 and OpenMetrics 1.0.
 *
 * Values are exact decimals of raw × scale (decimal.ts). Histograms are classic (`_bucket{le}`,
 * buckets.ts): text has no native histograms. A producer without a sum (KVM) gets no `_sum`:
 * in 0.0.4 `_count` is still written (Prometheus and promtool accept a histogram without
 * `_sum`); OpenMetrics ties `_count` to `_sum` ("if and only if a Sum is present"), so there the
 * +Inf bucket alone carries the count. OpenMetrics adds `# UNIT`, `_created` (the point's
 * startMs, which moves on a reset) and `# EOF`.
 *
 * Speed (a big host is ~100 000 series): the output is written as bytes (byte-writer.ts); a
 * label set is rendered and encoded once per array (the exporter shares one array between all
 * series of a VM or vCPU), and integers below 2^53 are printed through Number.
 */
import { classicBounds, totalCount } from './buckets.ts';
import { ByteWriter } from './byte-writer.ts';
import { scaledDecimal } from './decimal.ts';
import { escapeHelp, escapeLabelValue } from './escape.ts';
import type { Exposition, Label, MetricFamily, MetricPoint, Scale } from './model.ts';

export const PROMETHEUS_TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NEWLINE = 10;
const SPACE = 32;
const CLOSE = 125; // }

/** `{a="x",b="y"` without the closing brace, as UTF-8; empty for no labels. One per label array. */
const openLabelCache = new WeakMap<readonly Label[], Buffer>();
const EMPTY = Buffer.alloc(0);

function openLabels(labels: readonly Label[]): Buffer {
  if (labels.length === 0) return EMPTY;
  let b = openLabelCache.get(labels);
  if (!b) {
    let s = '{';
    for (let i = 0; i < labels.length; i++) {
      const [name, value] = labels[i]!;
      s += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(value)}"`;
    }
    b = Buffer.from(s, 'utf8');
    openLabelCache.set(labels, b);
  }
  return b;
}

function value(w: ByteWriter, raw: bigint, scale: Scale): void {
  if (scale.exponent === 0 && raw <= MAX_SAFE && raw >= 0n) w.ascii(String(Number(raw)));
  else w.ascii(scaledDecimal(raw, scale));
}

/** Milliseconds since the epoch as OpenMetrics seconds, exact to the millisecond. */
function createdSeconds(ms: number): string {
  return scaledDecimal(BigInt(Math.round(ms)), { base: 10, exponent: -3 });
}

/** `name{labels} ` or `name ` up to the value. */
function sampleStart(w: ByteWriter, name: string, open: Buffer): void {
  w.ascii(name);
  if (open.length > 0) {
    w.bytes(open);
    w.byte(CLOSE);
  }
  w.byte(SPACE);
}

interface LeTexts {
  /** `,le="X"} ` after other labels. */
  after: Buffer[];
  /** `{le="X"} ` alone. */
  alone: Buffer[];
}

function leTexts(family: MetricFamily, count: number): LeTexts {
  const shape = family.shape ?? { kind: 'log2' as const };
  const les = classicBounds(shape, count).map((b) => (b === null ? '+Inf' : scaledDecimal(b, family.scale)));
  return {
    after: les.map((le) => Buffer.from(`,le="${le}"} `)),
    alone: les.map((le) => Buffer.from(`{le="${le}"} `)),
  };
}

function histogramLines(w: ByteWriter, f: MetricFamily, p: MetricPoint, om: boolean, les: Map<number, LeTexts>) {
  const h = p.histogram!;
  const n = h.buckets.length;
  let bounds = les.get(n);
  if (!bounds) {
    bounds = leTexts(f, n);
    les.set(n, bounds);
  }
  const open = openLabels(p.labels);
  const suffixes = open.length > 0 ? bounds.after : bounds.alone;
  // `name_bucket{labels` once per point, then one copy per bucket line.
  const prefix = Buffer.concat([Buffer.from(`${f.name}_bucket`, 'latin1'), open]);
  const total = totalCount(h.buckets);
  const small = total <= MAX_SAFE;
  let cumulative = 0n;
  let cumulativeNumber = 0;
  for (let i = 0; i < n; i++) {
    w.bytes(prefix);
    w.bytes(suffixes[i]!);
    if (small) {
      cumulativeNumber += Number(h.buckets[i]!);
      w.ascii(String(cumulativeNumber));
    } else {
      cumulative += h.buckets[i]!;
      w.ascii(cumulative.toString());
    }
    w.byte(NEWLINE);
  }
  if (h.sum !== undefined) {
    sampleStart(w, `${f.name}_sum`, open);
    w.ascii(scaledDecimal(h.sum, f.scale));
    w.byte(NEWLINE);
  }
  if (h.sum !== undefined || !om) {
    sampleStart(w, `${f.name}_count`, open);
    w.ascii(total.toString());
    w.byte(NEWLINE);
  }
  if (om) {
    sampleStart(w, `${f.name}_created`, open);
    w.ascii(createdSeconds(p.startMs));
    w.byte(NEWLINE);
  }
}

function writeFamily(w: ByteWriter, family: MetricFamily, om: boolean): void {
  if (family.points.length === 0) return;
  const counter = family.type === 'counter';
  // 0.0.4 names a counter family by its samples (`_total`); OpenMetrics by the bare name.
  const sampleName = counter ? `${family.name}_total` : family.name;
  const familyName = counter && !om ? sampleName : family.name;
  if (om) {
    w.ascii(`# TYPE ${familyName} ${family.type}\n`);
    if (family.unit !== '') w.ascii(`# UNIT ${familyName} ${family.unit}\n`);
    w.utf8(`# HELP ${familyName} ${escapeHelp(family.help, true)}\n`);
  } else {
    w.utf8(`# HELP ${familyName} ${escapeHelp(family.help, false)}\n`);
    w.ascii(`# TYPE ${familyName} ${family.type}\n`);
  }
  const les = new Map<number, LeTexts>();
  const createdName = `${family.name}_created`;
  for (const p of family.points) {
    if (family.type === 'histogram') {
      if (p.histogram && p.histogram.buckets.length > 0) histogramLines(w, family, p, om, les);
      continue;
    }
    if (p.value === undefined) continue;
    const open = openLabels(p.labels);
    sampleStart(w, sampleName, open);
    value(w, p.value, family.scale);
    w.byte(NEWLINE);
    if (om && counter) {
      sampleStart(w, createdName, open);
      w.ascii(createdSeconds(p.startMs));
      w.byte(NEWLINE);
    }
  }
}

/** Output sizes of the last encodings, so the next one starts with a buffer of about the right size. */
const lastSize = { text: 64 * 1024, om: 64 * 1024 };

/** Prometheus text format 0.0.4, as UTF-8 bytes. */
export function encodePrometheusTextBytes(exposition: Exposition): Buffer {
  const w = new ByteWriter(lastSize.text);
  for (const f of exposition.families) writeFamily(w, f, false);
  lastSize.text = w.length + (w.length >> 3);
  return w.finish();
}

/** OpenMetrics 1.0 text ending with `# EOF`, as UTF-8 bytes. */
export function encodeOpenMetricsBytes(exposition: Exposition): Buffer {
  const w = new ByteWriter(lastSize.om);
  for (const f of exposition.families) writeFamily(w, f, true);
  w.ascii('# EOF\n');
  lastSize.om = w.length + (w.length >> 3);
  return w.finish();
}

/** Prometheus text format 0.0.4. */
export function encodePrometheusText(exposition: Exposition): string {
  return encodePrometheusTextBytes(exposition).toString('utf8');
}

/** OpenMetrics 1.0 text, ending with `# EOF`. */
export function encodeOpenMetrics(exposition: Exposition): string {
  return encodeOpenMetricsBytes(exposition).toString('utf8');
}
