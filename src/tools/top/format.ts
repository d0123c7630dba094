/** Small text helpers of the top view: fixed-width cells and compact numbers. */
import { uniqueIdHex } from '../../shm/region-names.ts';

// Every piece of text on the screen goes through truncate or pad: they make it safe to print (a
// control character in a VM name must not move the cursor) and measure it in terminal columns.

/** C0 and C1 control characters and DEL: a terminal acts on them instead of showing them. */
function isControl(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}
/** Combining marks and zero-width characters: drawn on the cell before them. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufeff]$/u;
/** East Asian wide and fullwidth characters and the common emoji blocks: two cells each. */
const DOUBLE_WIDTH =
  /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return DOUBLE_WIDTH.test(ch) ? 2 : 1;
}

/** The text with control characters shown as "?". */
export function printable(text: string): string {
  let out = '';
  for (const ch of text) out += isControl(ch) ? '?' : ch;
  return out;
}

/** Terminal columns the text takes once printable. */
export function textWidth(text: string): number {
  let width = 0;
  for (const ch of printable(text)) width += charWidth(ch);
  return width;
}

/** Printable, at most `width` columns; cut text ends in "…". A character is never split. */
export function truncate(text: string, width: number): string {
  const safe = printable(text);
  if (textWidth(safe) <= width) return safe;
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of safe) {
    const w = charWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

export function pad(text: string, width: number, align: 'left' | 'right'): string {
  const cut = truncate(text, width);
  const fill = ' '.repeat(Math.max(0, width - textWidth(cut)));
  return align === 'right' ? fill + cut : cut + fill;
}

const SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** A rate in at most 7 characters: "0", "3.5", "1234", "12.3k", "4.56M"; "-" when unknown. */
export function formatRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  if (value === 0) return '0';
  if (value < 100) return value.toFixed(1);
  if (value < 100_000) return value.toFixed(0);
  let scaled = value;
  let i = 0;
  while (scaled >= 1000 && i < SUFFIXES.length - 1) {
    scaled /= 1000;
    i++;
  }
  return `${scaled.toFixed(scaled < 100 ? 2 : 1)}${SUFFIXES[i]}`;
}

export function formatPercent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(1)}`;
}

/** A number with at most 3 decimals and no exponent, for CSV and logs. */
export function formatDecimal(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '';
  return value.toFixed(3).replace(/\.?0+$/, '');
}

export function hex64(value: bigint): string {
  return uniqueIdHex(value);
}

/** Local wall-clock time of day, HH:MM:SS. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}
