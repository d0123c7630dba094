/**
 * Encoding and decoding of call-batch headers and entries, and the checks a host applies to a
 * header it copied out of guest memory. Decoding reads only the bytes it is given (a copy the
 * caller made), so a guest changing its buffer meanwhile cannot make a value change between its
 * check and its use.
 */
import { FormatError } from '../../errors.ts';
import {
  BATCH_MAGIC,
  bufferSize,
  ENTRY_OFFSET,
  ENTRY_RESERVED_BYTES,
  ENTRY_SIZE,
  HEADER_OFFSET,
  HEADER_RESERVED_BYTES,
  HEADER_SIZE,
  KNOWN_FLAGS,
  MAX_CAPACITY,
  NR_ARGS,
} from './constants.ts';

export interface BatchHeader {
  magic: number;
  capacity: number;
  count: number;
  next: number;
  flags: number;
  /** The reserved bytes are all zero. */
  reservedZero: boolean;
}

export interface BatchEntry {
  word: number;
  status: number;
  result: bigint;
  /** NR_ARGS u64 arguments. */
  args: bigint[];
  reservedZero: boolean;
}

const FORMAT = 'call-batch';
const U64_MAX = (1n << 64n) - 1n;

function view(bytes: Uint8Array, need: number, what: string): DataView {
  if (bytes.length < need) {
    throw new FormatError(FORMAT, what, 'truncated', `needs ${need} bytes, got ${bytes.length}`, String(bytes.length));
  }
  return new DataView(bytes.buffer, bytes.byteOffset, need);
}

function allZero(bytes: Uint8Array, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function decodeHeader(bytes: Uint8Array): BatchHeader {
  const v = view(bytes, HEADER_SIZE, 'header');
  return {
    magic: v.getUint32(HEADER_OFFSET.magic, true),
    capacity: v.getUint32(HEADER_OFFSET.capacity, true),
    count: v.getUint32(HEADER_OFFSET.count, true),
    next: v.getUint32(HEADER_OFFSET.next, true),
    flags: v.getUint32(HEADER_OFFSET.flags, true),
    reservedZero: allZero(bytes, HEADER_OFFSET.reserved, HEADER_RESERVED_BYTES),
  };
}

function u32(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new FormatError(FORMAT, field, 'u32-range', 'must be an integer in 0..2^32-1', String(value));
  }
  return value;
}

/** The 32 bytes of a header (reserved bytes zero); `magic` defaults to BATCH_MAGIC. */
export function encodeHeader(h: Omit<BatchHeader, 'magic' | 'reservedZero'> & { magic?: number }): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(HEADER_OFFSET.magic, u32('header.magic', h.magic ?? BATCH_MAGIC), true);
  v.setUint32(HEADER_OFFSET.capacity, u32('header.capacity', h.capacity), true);
  v.setUint32(HEADER_OFFSET.count, u32('header.count', h.count), true);
  v.setUint32(HEADER_OFFSET.next, u32('header.next', h.next), true);
  v.setUint32(HEADER_OFFSET.flags, u32('header.flags', h.flags), true);
  return out;
}

export function decodeEntry(bytes: Uint8Array): BatchEntry {
  const v = view(bytes, ENTRY_SIZE, 'entry');
  const args: bigint[] = [];
  for (let i = 0; i < NR_ARGS; i++) args.push(v.getBigUint64(ENTRY_OFFSET.args + 8 * i, true));
  return {
    word: v.getUint32(ENTRY_OFFSET.word, true),
    status: v.getInt32(ENTRY_OFFSET.status, true),
    result: v.getBigUint64(ENTRY_OFFSET.result, true),
    args,
    reservedZero: allZero(bytes, ENTRY_OFFSET.reserved, ENTRY_RESERVED_BYTES),
  };
}

/** The 64 bytes of an entry; missing arguments are zero, more than NR_ARGS is refused. */
export function encodeEntry(e: {
  word: number;
  status: number;
  result?: bigint;
  args?: readonly bigint[];
}): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(ENTRY_OFFSET.word, u32('entry.word', e.word), true);
  if (!Number.isInteger(e.status) || e.status < -0x8000_0000 || e.status > 0x7fff_ffff) {
    throw new FormatError(FORMAT, 'entry.status', 's32-range', 'must be an s32', String(e.status));
  }
  v.setInt32(ENTRY_OFFSET.status, e.status, true);
  const result = e.result ?? 0n;
  const args = e.args ?? [];
  if (args.length > NR_ARGS) {
    throw new FormatError(FORMAT, 'entry.args', 'too-many', `at most ${NR_ARGS} arguments`, String(args.length));
  }
  for (const [i, a] of [result, ...args].entries()) {
    if (a < 0n || a > U64_MAX) {
      throw new FormatError(
        FORMAT,
        i === 0 ? 'entry.result' : `entry.args[${i - 1}]`,
        'u64-range',
        'must be a u64',
        String(a),
      );
    }
  }
  v.setBigUint64(ENTRY_OFFSET.result, result, true);
  args.forEach((a, i) => {
    v.setBigUint64(ENTRY_OFFSET.args + 8 * i, a, true);
  });
  return out;
}

/**
 * The rules a host applies to a header copied from guest physical address `gpa` of a guest with
 * `memorySize` bytes of memory. Throws FormatError naming the field and the rule.
 */
export function checkHeader(h: BatchHeader, gpa: number, memorySize: number): void {
  const fail = (field: string, rule: string, message: string, value: number): never => {
    throw new FormatError(FORMAT, `header.${field}`, rule, message, String(value));
  };
  if (h.magic !== BATCH_MAGIC) fail('magic', 'magic', `must be 0x${BATCH_MAGIC.toString(16)}`, h.magic);
  if (h.capacity < 1 || h.capacity > MAX_CAPACITY) {
    fail('capacity', 'capacity-range', `must be 1..${MAX_CAPACITY}`, h.capacity);
  }
  checkPlacement(gpa, h.capacity, memorySize);
  if (h.count > h.capacity) fail('count', 'count-range', `must be at most capacity (${h.capacity})`, h.count);
  if (h.next > h.count) fail('next', 'next-range', `must be at most count (${h.count})`, h.next);
  if ((h.flags & ~KNOWN_FLAGS) !== 0) fail('flags', 'unknown-flags', 'unknown flag bits are set', h.flags);
  if (!h.reservedZero) fail('reserved', 'reserved-zero', 'reserved bytes must be zero', 0);
}

/** A buffer of `capacity` entries at `gpa` lies inside guest memory and is 8-byte aligned. */
export function checkPlacement(gpa: number, capacity: number, memorySize: number): void {
  if (!Number.isSafeInteger(gpa) || gpa <= 0 || gpa % 8 !== 0) {
    throw new FormatError(
      FORMAT,
      'address',
      'alignment',
      'a buffer address is non-zero and 8-byte aligned',
      String(gpa),
    );
  }
  const end = gpa + bufferSize(Math.min(capacity, MAX_CAPACITY + 1));
  if (end > memorySize) {
    throw new FormatError(
      FORMAT,
      'header.capacity',
      'outside-memory',
      `a buffer of ${capacity} entries at 0x${gpa.toString(16)} ends past guest memory (${memorySize} bytes)`,
      String(capacity),
    );
  }
}
