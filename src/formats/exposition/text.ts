/**
 * The two text formats: Prometheus text 0.0.4 and OpenMetrics 1.0.
 *
 * Values are exact decimals of raw × scale (decimal.ts). Histograms are classic (`_bucket{le}`,
 * buckets.ts): text has no native histograms. A producer without a sum (KVM) gets no `_sum`:
 * in 0.0.4 `_count` is still written (Prometheus and promtool accept a histogram without
 * `_sum`); OpenMetrics ties `_count` to `_sum` ("if and only if a Sum is present"), so there the
 * +Inf bucket alone carries the count. OpenMetrics adds `# UNIT`, `_created` (the point's
 * startMs, which moves on a reset) and `# EOF`.
 */
import { classicBounds, totalCount } from './buckets.ts';
import { scaledDecimal } from './decimal.ts';
import { escapeHelp, escapeLabelValue } from './escape.ts';
import type { Exposition, Label, MetricFamily, MetricPoint } from './model.ts';

export const PROMETHEUS_TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** `{a="x",b="y"` without the closing brace, or '' for no labels. */
function openLabels(labels: readonly Label[]): string {
  if (labels.length === 0) return '';
  let s = '{';
  for (let i = 0; i < labels.length; i++) {
    const [name, value] = labels[i]!;
    s += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(value)}"`;
  }
  return s;
}

function closeLabels(open: string): string {
  return open === '' ? '' : `${open}}`;
}

function withLe(open: string, le: string): string {
  return open === '' ? `{le="${le}"}` : `${open},le="${le}"}`;
}

/** Milliseconds since the epoch as OpenMetrics seconds, exact to the millisecond. */
function createdSeconds(ms: number): string {
  return scaledDecimal(BigInt(Math.round(ms)), { base: 10, exponent: -3 });
}

/** Per-family `le` texts, computed once per bucket count (every point of a family has the same). */
function leTexts(family: MetricFamily, count: number): string[] {
  const shape = family.shape ?? { kind: 'log2' as const };
  return classicBounds(shape, count).map((b) => (b === null ? '+Inf' : scaledDecimal(b, family.scale)));
}

function histogramLines(family: MetricFamily, p: MetricPoint, open: string, om: boolean, les: Map<number, string[]>) {
  const h = p.histogram!;
  let bounds = les.get(h.buckets.length);
  if (!bounds) {
    bounds = leTexts(family, h.buckets.length);
    les.set(h.buckets.length, bounds);
  }
  const name = family.name;
  let s = '';
  let cumulative = 0n;
  for (let i = 0; i < h.buckets.length; i++) {
    cumulative += h.buckets[i]!;
    s += `${name}_bucket${withLe(open, bounds[i]!)} ${cumulative}\n`;
  }
  const labels = closeLabels(open);
  if (h.sum !== undefined) {
    s += `${name}_sum${labels} ${scaledDecimal(h.sum, family.scale)}\n`;
    s += `${name}_count${labels} ${cumulative}\n`;
  } else if (!om) s += `${name}_count${labels} ${totalCount(h.buckets)}\n`;
  if (om) s += `${name}_created${labels} ${createdSeconds(p.startMs)}\n`;
  return s;
}

function familyText(family: MetricFamily, om: boolean): string {
  if (family.points.length === 0) return '';
  const counter = family.type === 'counter';
  // 0.0.4 names a counter family by its samples (`_total`); OpenMetrics by the bare name.
  const sampleName = counter ? `${family.name}_total` : family.name;
  const familyName = counter && !om ? sampleName : family.name;
  let s = '';
  if (om) {
    s += `# TYPE ${familyName} ${family.type}\n`;
    if (family.unit !== '') s += `# UNIT ${familyName} ${family.unit}\n`;
    s += `# HELP ${familyName} ${escapeHelp(family.help, true)}\n`;
  } else {
    s += `# HELP ${familyName} ${escapeHelp(family.help, false)}\n`;
    s += `# TYPE ${familyName} ${family.type}\n`;
  }
  const les = new Map<number, string[]>();
  for (const p of family.points) {
    const open = openLabels(p.labels);
    if (family.type === 'histogram') {
      if (p.histogram && p.histogram.buckets.length > 0) s += histogramLines(family, p, open, om, les);
      continue;
    }
    if (p.value === undefined) continue;
    s += `${sampleName}${closeLabels(open)} ${scaledDecimal(p.value, family.scale)}\n`;
    if (om && counter) s += `${family.name}_created${closeLabels(open)} ${createdSeconds(p.startMs)}\n`;
  }
  return s;
}

/** Prometheus text format 0.0.4. */
export function encodePrometheusText(exposition: Exposition): string {
  let s = '';
  for (const f of exposition.families) s += familyText(f, false);
  return s;
}

/** OpenMetrics 1.0 text, ending with `# EOF`. */
export function encodeOpenMetrics(exposition: Exposition): string {
  let s = '';
  for (const f of exposition.families) s += familyText(f, true);
  return `${s}# EOF\n`;
}
