/**
 * Unit scaling for display, shared by every statistics format.
 *
 * A raw u64 `raw` with unit U, base B and exponent E means raw × B^E units of
 * U (nanoseconds are seconds with base 10, exponent -9). All arithmetic is on
 * bigint fractions, so u64 inputs are never rounded through a double; the
 * only rounding is the final, explicit one to `decimals` places (half up).
 */

export type UnitKind = 'none' | 'bytes' | 'seconds' | 'cycles' | 'boolean';
export type UnitBase = 10 | 2;

export interface UnitScale {
  unit: UnitKind;
  base: UnitBase;
  exponent: number;
}

/** An exact non-negative fraction num / den, den > 0. */
export interface Fraction {
  num: bigint;
  den: bigint;
}

export interface ScaledValue {
  /** Number and symbol, e.g. "1.235 ms", "4 KiB", "123456", "true". */
  text: string;
  /** The number alone, in the chosen display unit, e.g. "1.235". */
  value: string;
  /** Display unit symbol, e.g. "ms"; empty for plain counts and booleans. */
  symbol: string;
}

/** Exponents beyond this are shown symbolically instead of expanded (a hostile s16 could ask for 10^32767). */
export const MAX_EXPANDED_EXPONENT = 64;

interface DisplayUnit {
  symbol: string;
  /** Base units per display unit, as a fraction. */
  per: Fraction;
}

const SECOND_UNITS: DisplayUnit[] = [
  { symbol: 's', per: { num: 1n, den: 1n } },
  { symbol: 'ms', per: { num: 1n, den: 1_000n } },
  { symbol: 'µs', per: { num: 1n, den: 1_000_000n } },
  { symbol: 'ns', per: { num: 1n, den: 1_000_000_000n } },
];

function powerUnits(symbols: string[], step: bigint): DisplayUnit[] {
  return symbols.map((symbol, i) => ({ symbol, per: { num: step ** BigInt(i), den: 1n } }));
}
const BYTES_POW2 = powerUnits(['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'], 1024n);
const BYTES_POW10 = powerUnits(['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'], 1000n);

/** The exact value in the base unit (seconds, bytes, cycles, count). */
export function toBaseUnit(raw: bigint, scale: Pick<UnitScale, 'base' | 'exponent'>): Fraction {
  const factor = BigInt(scale.base) ** BigInt(Math.abs(scale.exponent));
  return scale.exponent >= 0 ? { num: raw * factor, den: 1n } : { num: raw, den: factor };
}

/** The value in the base unit as a double, for exporters that want floats (Prometheus seconds, bytes). */
export function toNumber(raw: bigint, scale: Pick<UnitScale, 'base' | 'exponent'>): number {
  if (Math.abs(scale.exponent) > MAX_EXPANDED_EXPONENT) return Number(raw) * scale.base ** scale.exponent;
  const { num, den } = toBaseUnit(raw, scale);
  // Divide in bigint first to keep the integer part exact, then add the fraction.
  const whole = num / den;
  return Number(whole) + Number(num - whole * den) / Number(den);
}

/** Renders num/den with at most `decimals` places, rounded half up, trailing zeros trimmed. */
export function formatFraction(f: Fraction, decimals = 3): string {
  const scale = 10n ** BigInt(decimals);
  const scaled = (f.num * scale * 2n + f.den) / (f.den * 2n);
  const whole = scaled / scale;
  const frac = scaled % scale;
  if (frac === 0n || decimals === 0) return whole.toString();
  return `${whole}.${frac.toString().padStart(decimals, '0').replace(/0+$/, '')}`;
}

/** The largest unit (units are ordered largest first) in which the value is at least 1. */
function pick(units: DisplayUnit[], value: Fraction, fallback: DisplayUnit): DisplayUnit {
  if (value.num === 0n) return fallback;
  let chosen = units[units.length - 1]!;
  for (const u of units) {
    // value ≥ 1 display unit  ⇔  num/den ≥ per.num/per.den
    if (value.num * u.per.den >= u.per.num * value.den) {
      chosen = u;
      break;
    }
  }
  return chosen;
}

function inUnit(value: Fraction, u: DisplayUnit): Fraction {
  return { num: value.num * u.per.den, den: value.den * u.per.num };
}

/** Scales a raw value for display. */
export function scaleValue(raw: bigint, scale: UnitScale, decimals = 3): ScaledValue {
  if (scale.unit === 'boolean') {
    const text = raw === 0n ? 'false' : raw === 1n ? 'true' : raw.toString();
    return { text, value: text, symbol: '' };
  }
  const plainSymbol =
    scale.unit === 'cycles' ? 'cycles' : scale.unit === 'bytes' ? 'B' : scale.unit === 'seconds' ? 's' : '';
  if (Math.abs(scale.exponent) > MAX_EXPANDED_EXPONENT) {
    const value = `${raw}×${scale.base}^${scale.exponent}`;
    return { text: join(value, plainSymbol), value, symbol: plainSymbol };
  }
  const base = toBaseUnit(raw, scale);
  let unit: DisplayUnit;
  switch (scale.unit) {
    case 'seconds':
      unit = pick(SECOND_UNITS, base, naturalSecondUnit(scale));
      break;
    case 'bytes': {
      const units = scale.base === 2 ? BYTES_POW2 : BYTES_POW10;
      unit = pick([...units].reverse(), base, units[0]!);
      break;
    }
    default:
      unit = { symbol: plainSymbol, per: { num: 1n, den: 1n } };
  }
  const value = formatFraction(inUnit(base, unit), decimals);
  return { text: join(value, unit.symbol), value, symbol: unit.symbol };
}

/** Zero is shown in the unit the stat counts in (0 ns for a nanosecond counter). */
function naturalSecondUnit(scale: UnitScale): DisplayUnit {
  if (scale.base === 10 && scale.exponent <= 0) {
    const u = SECOND_UNITS.find((x) => x.per.den === 10n ** BigInt(-scale.exponent));
    if (u) return u;
  }
  return SECOND_UNITS[0]!;
}

function join(value: string, symbol: string): string {
  return symbol === '' ? value : `${value} ${symbol}`;
}
