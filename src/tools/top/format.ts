/** Small text helpers of the top view: fixed-width cells and compact numbers. */
import { uniqueIdHex } from '../../shm/region-names.ts';

/** Code points, so a multi-unit character is never split. */
export function textWidth(text: string): number {
  return [...text].length;
}

/** At most `width` characters; a cut name ends in "…". */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return `${chars.slice(0, width - 1).join('')}…`;
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
