/**
 * Exact decimal text of raw × base^exponent, for the text formats: a u64 counter of nanoseconds
 * becomes "12.345678901" seconds without passing through a double. Beyond MAX_EXACT_EXPONENT (a
 * hostile or odd producer scale) base 10 stays exact in exponent notation, base 2 rounds once.
 */
import type { Scale } from './model.ts';

/** Exponents up to this are written out in full; both Go's and Python's float parsers accept the rest. */
export const MAX_EXACT_EXPONENT = 64;

/** A double as Prometheus and OpenMetrics text write it (+Inf, -Inf, NaN). */
export function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

/** raw × 10^-places as an exact decimal, trailing zeros of the fraction trimmed. */
function shiftDecimal(raw: bigint, places: number): string {
  const digits = raw.toString();
  const negative = digits.startsWith('-');
  const body = (negative ? digits.slice(1) : digits).padStart(places + 1, '0');
  const whole = body.slice(0, body.length - places);
  const fraction = body.slice(body.length - places).replace(/0+$/, '');
  const text = fraction === '' ? whole : `${whole}.${fraction}`;
  return negative ? `-${text}` : text;
}

/** The exact value raw × base^exponent as decimal text. */
export function scaledDecimal(raw: bigint, scale: Scale): string {
  const e = scale.exponent;
  if (e === 0) return raw.toString();
  if (scale.base === 10) {
    if (Math.abs(e) > MAX_EXACT_EXPONENT) return `${raw}e${e}`;
    if (e > 0) return raw === 0n ? '0' : `${raw}${'0'.repeat(e)}`;
    return shiftDecimal(raw, -e);
  }
  if (Math.abs(e) > MAX_EXACT_EXPONENT) return formatDouble(Number(raw) * 2 ** e);
  if (e > 0) return (raw << BigInt(e)).toString();
  // raw / 2^k = raw × 5^k / 10^k: a finite decimal of k places.
  return shiftDecimal(raw * 5n ** BigInt(-e), -e);
}

/** The value as the nearest double, for binary formats (one rounding, from the exact value). */
export function scaledNumber(raw: bigint, scale: Scale): number {
  const e = scale.exponent;
  if (e === 0) return Number(raw);
  if (Math.abs(e) > MAX_EXACT_EXPONENT) return Number(raw) * scale.base ** e;
  if (e > 0) return Number(raw * BigInt(scale.base) ** BigInt(e));
  const den = BigInt(scale.base) ** BigInt(-e);
  const whole = raw / den;
  const rest = raw - whole * den;
  if (rest === 0n) return Number(whole);
  // Number(string) rounds the exact decimal once, correctly.
  return Number(scaledDecimal(raw, scale));
}
