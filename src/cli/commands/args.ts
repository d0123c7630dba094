/**
 * The one place where command-line numbers are parsed. Every number has explicit limits, is
 * compared exactly (as a BigInt, so "18446744073709551616" is never rounded into range), and a
 * bad one is a usage error of one line naming the option, the allowed range and the text as typed.
 */
import { UsageError } from '../../errors.ts';
import { MAX_DOMID } from '../../host/lifecycle.ts';
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../../vmm/domain-options.ts';
import { MAX_GUEST_VCPUS } from '../../vmm/guest-abi.ts';

export interface Limits<T extends number | bigint = number> {
  min: T;
  max: T;
  /** Unit shown after the range ("ms", "MiB"), if any. */
  unit?: string;
}

const DECIMAL = /^\d+$/;

function rangeText(limits: Limits<number | bigint>): string {
  return `${limits.min}..${limits.max}${limits.unit ? ` ${limits.unit}` : ''}`;
}

function outOfRange(option: string, text: string, limits: Limits<number | bigint>): UsageError {
  return new UsageError(`${option} must be a whole number in ${rangeText(limits)} (got "${text}")`);
}

/** A whole decimal number within `limits` (both inclusive, both safe integers), exactly. */
export function parseInteger(option: string, text: string, limits: Limits): number {
  const value = parseBigInteger(option, text, { min: BigInt(limits.min), max: BigInt(limits.max), unit: limits.unit });
  return Number(value);
}

/** A whole decimal number within `limits`, as a BigInt (u64 arguments: no precision is lost). */
export function parseBigInteger(option: string, text: string, limits: Limits<bigint>): bigint {
  if (!DECIMAL.test(text)) throw outOfRange(option, text, limits);
  const value = BigInt(text);
  if (value < limits.min || value > limits.max) throw outOfRange(option, text, limits);
  return value;
}

/** Every value a u64 argument can carry. */
export const U64: Limits<bigint> = { min: 0n, max: 0xffff_ffff_ffff_ffffn };

/** Seconds with an optional decimal fraction, more than 0 and at most `maxSeconds`, as whole milliseconds. */
export function parseSeconds(option: string, text: string, maxSeconds: number): number {
  const ms = Math.round(Number(text) * 1000);
  if (!/^\d+(\.\d+)?$/.test(text) || ms < 1 || ms > maxSeconds * 1000) {
    throw new UsageError(`${option} takes seconds, more than 0 and at most ${maxSeconds} (got "${text}")`);
  }
  return ms;
}

// Limits shared by several commands, from the constants of the code that enforces them.

/** vCPUs of a domain. */
export const VCPUS: Limits = { min: 1, max: MAX_GUEST_VCPUS };
/** Guest memory of a domain. */
export const MEMORY_MIB: Limits = { min: MIN_MEMORY_MIB, max: MAX_MEMORY_MIB, unit: 'MiB' };
/** A domain's id (0 is no domain; the host's own pools answer to 0 where a command says so). */
export const DOMID: Limits = { min: 1, max: MAX_DOMID };
/** A process id: Linux never hands out more than PID_MAX_LIMIT (2^22). */
export const PID: Limits = { min: 1, max: 4_194_304 };

/** A domid argument, compared exactly (a u64 on the wire): out of range is a usage error, not a lookup. */
export function parseDomid(text: string, limits: Limits = DOMID): number {
  return parseInteger('DOMID', text, limits);
}
