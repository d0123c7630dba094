/**
 * Encodes and decodes one struct of a resolved ABI at the offsets its lock file gives: integers
 * as bigints, integer arrays as bigint[] (u8 arrays as Uint8Array), char arrays as strings,
 * nested structs as objects. Decoding is strict: reserved and padding bytes must be zero, a char
 * array must be UTF-8 padded with NULs — each failure a FormatError naming the field and rule.
 */
import { MAX_STRUCT_NESTING, type ResolvedAbi, type ResolvedField, type ResolvedStruct } from '../../abi/resolved.ts';
import type { IntType } from '../../abi/schema.ts';
import { FormatError } from '../../errors.ts';
import { streamStruct } from './abi.ts';

export type FieldValue = bigint | bigint[] | Uint8Array | string | StructValue;
export interface StructValue {
  [field: string]: FieldValue;
}

const FORMAT = 'stream';

function readInt(view: DataView, at: number, type: IntType): bigint {
  switch (type) {
    case 'u8':
      return BigInt(view.getUint8(at));
    case 's8':
      return BigInt(view.getInt8(at));
    case 'u16':
      return BigInt(view.getUint16(at, true));
    case 's16':
      return BigInt(view.getInt16(at, true));
    case 'u32':
      return BigInt(view.getUint32(at, true));
    case 's32':
      return BigInt(view.getInt32(at, true));
    case 'u64':
      return view.getBigUint64(at, true);
    case 's64':
      return view.getBigInt64(at, true);
  }
}

function writeInt(view: DataView, at: number, type: IntType, v: bigint): void {
  switch (type) {
    case 'u8':
    case 's8':
      view.setUint8(at, Number(BigInt.asUintN(8, v)));
      return;
    case 'u16':
    case 's16':
      view.setUint16(at, Number(BigInt.asUintN(16, v)), true);
      return;
    case 'u32':
    case 's32':
      view.setUint32(at, Number(BigInt.asUintN(32, v)), true);
      return;
    default:
      view.setBigUint64(at, BigInt.asUintN(64, v), true);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Lock files deeper than MAX_STRUCT_NESTING are refused when parsed; this guard keeps a
 * ResolvedAbi built some other way from recursing past the same bound.
 */
function checkDepth(depth: number, path: string): void {
  if (depth > MAX_STRUCT_NESTING) {
    throw new FormatError(FORMAT, path, 'nesting-too-deep', `structs nest at most ${MAX_STRUCT_NESTING} deep`);
  }
}

function decodeField(
  abi: ResolvedAbi,
  f: ResolvedField,
  bytes: Uint8Array,
  base: number,
  path: string,
  depth: number,
): FieldValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = base + f.offset;
  const name = `${path}.${f.name}`;
  switch (f.kind) {
    case 'reserved':
    case 'pad':
    case 'retired':
      for (let i = 0; i < f.size; i++) {
        if (bytes[at + i] !== 0) throw new FormatError(FORMAT, name, 'reserved-nonzero', 'reserved bytes must be zero');
      }
      return 0n;
    case 'char': {
      const raw = bytes.subarray(at, at + f.size);
      const end = raw.indexOf(0);
      const used = end < 0 ? raw : raw.subarray(0, end);
      if (end < 0 || raw.subarray(end).some((b) => b !== 0)) {
        throw new FormatError(FORMAT, name, 'char-padding', 'a name must end in NUL bytes only');
      }
      try {
        return decoder.decode(used);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // the fatal decoder's way of saying "not UTF-8"
        throw new FormatError(FORMAT, name, 'char-utf8', 'a name must be UTF-8');
      }
    }
    case 'array': {
      if (f.type === 'u8') return new Uint8Array(bytes.subarray(at, at + f.count));
      const width = f.size / f.count;
      return Array.from({ length: f.count }, (_, i) => readInt(view, at + i * width, f.type!));
    }
    case 'struct':
      return decodeAt(abi, streamStruct(abi, f.struct!), bytes, at, name, depth + 1);
    default:
      return readInt(view, at, f.type!);
  }
}

function decodeAt(
  abi: ResolvedAbi,
  s: ResolvedStruct,
  bytes: Uint8Array,
  base: number,
  path: string,
  depth: number,
): StructValue {
  checkDepth(depth, path);
  const out: StructValue = {};
  for (const f of s.fields) {
    const v = decodeField(abi, f, bytes, base, path, depth);
    if (f.kind !== 'reserved' && f.kind !== 'pad' && f.kind !== 'retired') out[f.name] = v;
  }
  return out;
}

/** Decodes struct `name` from the first bytes of `bytes` (the caller checked there are enough). */
export function decodeStruct(abi: ResolvedAbi, name: string, bytes: Uint8Array): StructValue {
  const s = streamStruct(abi, name);
  if (bytes.length < s.size) {
    throw new FormatError(FORMAT, name, 'short-struct', `needs ${s.size} bytes, has ${bytes.length}`);
  }
  return decodeAt(abi, s, bytes, 0, name, 1);
}

function encodeAt(
  abi: ResolvedAbi,
  s: ResolvedStruct,
  v: StructValue,
  out: Uint8Array,
  base: number,
  depth: number,
): void {
  checkDepth(depth, s.name);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const f of s.fields) {
    const value = v[f.name];
    if (value === undefined) continue; // reserved, padding and absent fields stay zero
    const at = base + f.offset;
    if (f.kind === 'char') {
      const bytes = new TextEncoder().encode(value as string);
      if (bytes.length >= f.size) throw new RangeError(`${s.name}.${f.name} holds at most ${f.size - 1} bytes`);
      out.set(bytes, at);
    } else if (f.kind === 'array') {
      if (f.type === 'u8') out.set((value as Uint8Array).subarray(0, f.count), at);
      else {
        const width = f.size / f.count;
        (value as bigint[]).slice(0, f.count).forEach((x, i) => {
          writeInt(view, at + i * width, f.type!, x);
        });
      }
    } else if (f.kind === 'struct') {
      encodeAt(abi, streamStruct(abi, f.struct!), value as StructValue, out, at, depth + 1);
    } else writeInt(view, at, f.type!, value as bigint);
  }
}

/** Encodes struct `name` into a new buffer of its size. */
export function encodeStruct(abi: ResolvedAbi, name: string, value: StructValue): Uint8Array {
  const s = streamStruct(abi, name);
  const out = new Uint8Array(s.size);
  encodeAt(abi, s, value, out, 0, 1);
  return out;
}
