/**
 * Checker: collects every Violation of a stats file instead of stopping at
 * the first. Metadata rules come from inspect.ts (the same rules the reader
 * enforces); this module adds the rules that need data: boolean values,
 * counters that must not go down between samples (a drop is a `reset`
 * warning — counters can be cleared on purpose), and metadata that must not
 * change when read again.
 */
import { FormatError, type Violation } from '../../errors.ts';
import { DESC_FIXED_SIZE, HeaderField, isHistogram, isMonotonic, StatUnit, typeName } from './constants.ts';
import type { WorkMeter } from './data-index.ts';
import { FlaggedWords } from './flagged-words.ts';
import { inspectMetadata } from './inspect.ts';
import { KvmStatsReader } from './reader.ts';
import { readFully, type StatsSource } from './source.ts';
import type { KvmStatsLayout } from './types.ts';

export interface CheckOptions {
  /** Data samples to take (≥ 1); counters are compared between consecutive samples. Default 2. */
  samples?: number;
  /** Called between samples (e.g. to let a guest run, or to wait). */
  betweenSamples?: () => void;
  /** Counts the data items visited (tests bound it by the file's size). */
  meter?: WorkMeter;
}

export interface CheckResult {
  violations: Violation[];
  errors: number;
  warnings: number;
  /** Present when the metadata could be read. */
  layout?: KvmStatsLayout;
}

/** Runs every rule on a source: metadata, data values, monotonic counters, re-read stability. */
export function checkKvmStats(source: StatsSource, options: CheckOptions = {}): CheckResult {
  const requested = options.samples ?? 2;
  // NaN would skip every data check and Infinity would never return.
  if (!Number.isFinite(requested)) throw new RangeError(`checkKvmStats: samples must be finite, got ${requested}`);
  const samples = Math.max(1, Math.floor(requested));
  const { findings, layout } = inspectMetadata(source);
  const violations: Violation[] = findings.map(({ fatal: _fatal, ...v }) => v);
  if (layout) {
    const reader = new KvmStatsReader(source, layout);
    let previous: BigUint64Array | undefined;
    const reported = new Set<string>(); // a bad value seen in several samples is reported once
    for (let i = 0; i < samples; i++) {
      if (i > 0) options.betweenSamples?.();
      let values: BigUint64Array;
      try {
        values = reader.readData().slice();
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        violations.push(e.toViolation());
        break;
      }
      for (const v of checkValues(layout, values, options.meter)) {
        const key = `${v.field} ${v.rule}`;
        if (!reported.has(key)) violations.push(v);
        reported.add(key);
      }
      if (previous) for (const v of checkProgress(layout, previous, values, options.meter)) violations.push(v);
      previous = values;
    }
    for (const v of checkUnchanged(layout, source)) violations.push(v);
  }
  return summarize(violations, layout);
}

function summarize(violations: Violation[], layout: KvmStatsLayout | undefined): CheckResult {
  const errors = violations.filter((v) => v.severity === 'error').length;
  const result: CheckResult = { violations, errors, warnings: violations.length - errors };
  if (layout) result.layout = layout;
  return result;
}

/**
 * Rules on one data block: boolean scalars hold 0 or 1. A bad word is reported once, under the
 * first boolean scalar covering it (FlaggedWords: linear however descriptors overlap).
 */
export function checkValues(layout: KvmStatsLayout, values: BigUint64Array, meter?: WorkMeter): Violation[] {
  const out: Violation[] = [];
  const bad = new FlaggedWords(values.length, (w) => values[w]! > 1n, meter);
  for (const d of layout.descriptors) {
    if (d.unit !== StatUnit.Boolean || isHistogram(d.type)) continue;
    for (const w of bad.take(d.word, d.word + d.size)) {
      const v = values[w]!;
      out.push({
        field: itemField(d.index, d.size, w - d.word),
        rule: 'boolean-value',
        severity: 'error',
        message: `"${d.name}" is boolean but holds ${v}`,
        value: v.toString(),
      });
    }
  }
  return out;
}

/**
 * Cumulative, peak and histogram items must not decrease between two samples; a drop is a `reset`
 * warning, reported once per word under the first such stat covering it.
 */
export function checkProgress(
  layout: KvmStatsLayout,
  before: BigUint64Array,
  after: BigUint64Array,
  meter?: WorkMeter,
): Violation[] {
  const out: Violation[] = [];
  const dropped = new FlaggedWords(Math.min(before.length, after.length), (w) => after[w]! < before[w]!, meter);
  for (const d of layout.descriptors) {
    if (!isMonotonic(d.type)) continue;
    for (const w of dropped.take(d.word, d.word + d.size)) {
      const a = before[w]!;
      const b = after[w]!;
      out.push({
        field: itemField(d.index, d.size, w - d.word),
        rule: 'reset',
        severity: 'warning',
        message: `${typeName(d.type)} stat "${d.name}" went down from ${a} to ${b} (reset?)`,
        value: b.toString(),
      });
    }
  }
  return out;
}

/** Reads the metadata again and reports every field that differs from the first read. */
export function checkUnchanged(layout: KvmStatsLayout, source: StatsSource): Violation[] {
  const out: Violation[] = [];
  const { header, id, descriptors } = layout.raw;
  const { idOffset, descOffset, nameSize } = layout.header;

  const header2 = reread(source, 0, header.length);
  for (const [name, at] of Object.entries(HeaderField)) {
    if (differs(header, header2, at, 4)) out.push(changed(`header.${name}`, 'header field'));
  }
  if (differs(id, reread(source, idOffset, id.length), 0, id.length)) out.push(changed('id', 'id string'));

  const descs2 = reread(source, descOffset, descriptors.length);
  const stride = DESC_FIXED_SIZE + nameSize;
  const parts: [string, number, number][] = [
    ['flags', 0, 4],
    ['exponent', 4, 2],
    ['size', 6, 2],
    ['offset', 8, 4],
    ['bucket_size', 12, 4],
    ['name', DESC_FIXED_SIZE, nameSize],
  ];
  for (let i = 0; i < layout.descriptors.length; i++) {
    for (const [name, at, len] of parts) {
      if (differs(descriptors, descs2, i * stride + at, len))
        out.push(changed(`desc[${i}].${name}`, 'descriptor field'));
    }
  }
  return out;
}

function reread(source: StatsSource, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length); // same length as the first, validated read
  const n = readFully(source, buf, position);
  return n === length ? buf : buf.subarray(0, n);
}

/** True when `b` (possibly shorter) differs from `a` anywhere in [at, at+len). */
function differs(a: Uint8Array, b: Uint8Array, at: number, len: number): boolean {
  for (let i = at; i < at + len; i++) if (i >= b.length || a[i] !== b[i]) return true;
  return false;
}

function changed(field: string, what: string): Violation {
  return {
    field,
    rule: 'changed',
    severity: 'error',
    message: `${what} differs when read again; metadata must stay fixed`,
  };
}

function itemField(index: number, size: number, item: number): string {
  return size === 1 ? `desc[${index}].value` : `desc[${index}].value[${item}]`;
}
