/**
 * Names of families and calls as tools print and parse them ("domain.create", "core"), from the
 * ABI's numbers. Numbers this build does not know print as hex (a newer host may serve them).
 */

import { UsageError } from '../errors.ts';
import {
  CORE_CALL,
  DOMAIN_CALL,
  EXPERIMENTAL_CALL,
  FAMILY,
  LIFECYCLE_CALL,
  POOL_CALL,
  STREAM_CALL,
} from '../formats/callword/constants.ts';
import { callWord, formatCallWord } from '../formats/callword/word.ts';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const CALLS: Record<number, Record<string, number>> = {
  [FAMILY.core]: CORE_CALL,
  [FAMILY.domain]: DOMAIN_CALL,
  [FAMILY.lifecycle]: LIFECYCLE_CALL,
  [FAMILY.pool]: POOL_CALL,
  [FAMILY.stream]: STREAM_CALL,
  [FAMILY.experimental]: EXPERIMENTAL_CALL,
};

const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

export function familyName(family: number): string {
  const e = Object.entries(FAMILY).find(([, v]) => v === family);
  return e ? e[0] : hex2(family);
}

export function callName(family: number, call: number): string {
  const e = Object.entries(CALLS[family] ?? {}).find(([, v]) => v === call);
  return `${familyName(family)}.${e ? snake(e[0]) : hex2(call)}`;
}

function parseByte(what: string, text: string): number | undefined {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const n = Number(text);
  if (n > 0xff) throw new UsageError(`${what} ${text} is not in 0..255`);
  return n;
}

/** A family given by name ("domain") or number ("1", "0x01"). */
export function parseFamily(text: string): number {
  const byName = (FAMILY as Record<string, number>)[text];
  if (byName !== undefined) return byName;
  const n = parseByte('family', text);
  if (n === undefined) throw new UsageError(`unknown family "${text}" (known: ${Object.keys(FAMILY).join(', ')})`);
  return n;
}

/**
 * A call word given as a number ("0x01020000", any u32, reserved and annotation bits kept) or
 * as FAMILY.CALL ("domain.create", "pool.0x03").
 */
export function parseCallWord(text: string): number {
  if (/^(0x[0-9a-f]{1,8}|\d+)$/i.test(text)) {
    const n = Number(text);
    if (n > 0xffff_ffff) throw new UsageError(`call word ${text} is not a u32`);
    return n;
  }
  const dot = text.indexOf('.');
  if (dot < 0) throw new UsageError(`"${text}" is neither a call word nor FAMILY.CALL`);
  const family = parseFamily(text.slice(0, dot));
  const rest = text.slice(dot + 1);
  const known = Object.entries(CALLS[family] ?? {}).find(([k]) => snake(k) === rest || k === rest);
  const call = known ? known[1] : parseByte('call', rest);
  if (call === undefined) throw new UsageError(`unknown call "${text}"`);
  return callWord(family, call);
}

export { formatCallWord };
