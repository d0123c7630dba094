/**
 * Control-socket frames (schemas/call-word: request_header, response_header), little-endian.
 *
 * Request:  magic u32 | length u32 | word u32 | nargs u32 | nargs × u64
 * Response: magic u32 | length u32 | status s32 | nvalues u32 | nvalues × u64
 *
 * The decoders look at a buffer that may hold a partial frame: they say how many bytes they still
 * need (never more than a maximal frame), or reject a header that can never become valid — before
 * anything is allocated from its numbers.
 */
import { FormatError } from '../../errors.ts';
import {
  HEADER_SIZE,
  MAX_ARGS,
  MAX_REQUEST_SIZE,
  MAX_RESPONSE_SIZE,
  MAX_VALUES,
  REQUEST_MAGIC,
  RESPONSE_MAGIC,
} from './constants.ts';

export interface RequestFrame {
  word: number;
  args: bigint[];
}

export interface ResponseFrame {
  status: number;
  values: bigint[];
}

export type Decoded<T> = { kind: 'frame'; frame: T; size: number } | { kind: 'need'; bytes: number };

const U64_MAX = (1n << 64n) - 1n;

function frameError(frame: string, field: string, rule: string, message: string, value?: number): FormatError {
  return new FormatError(`call-word ${frame}`, field, rule, message, value === undefined ? undefined : String(value));
}

export function encodeRequest(word: number, args: readonly bigint[]): Buffer {
  if (!Number.isInteger(word) || word < 0 || word > 0xffff_ffff) {
    throw frameError('request', 'word', 'u32-range', 'a call word is a u32', word);
  }
  if (args.length > MAX_ARGS) throw frameError('request', 'nargs', 'max-args', `at most ${MAX_ARGS}`, args.length);
  const buf = Buffer.alloc(HEADER_SIZE + 8 * args.length);
  buf.writeUInt32LE(REQUEST_MAGIC, 0);
  buf.writeUInt32LE(buf.length, 4);
  buf.writeUInt32LE(word, 8);
  buf.writeUInt32LE(args.length, 12);
  args.forEach((a, i) => {
    if (a < 0n || a > U64_MAX) throw frameError('request', `args[${i}]`, 'u64-range', 'arguments are u64');
    buf.writeBigUInt64LE(a, HEADER_SIZE + 8 * i);
  });
  return buf;
}

export function encodeResponse(status: number, values: readonly bigint[]): Buffer {
  if (values.length > MAX_VALUES) {
    throw frameError('response', 'nvalues', 'max-values', `at most ${MAX_VALUES}`, values.length);
  }
  const buf = Buffer.alloc(HEADER_SIZE + 8 * values.length);
  buf.writeUInt32LE(RESPONSE_MAGIC, 0);
  buf.writeUInt32LE(buf.length, 4);
  buf.writeInt32LE(status, 8);
  buf.writeUInt32LE(values.length, 12);
  values.forEach((v, i) => {
    if (v < 0n || v > U64_MAX) throw frameError('response', `values[${i}]`, 'u64-range', 'values are u64');
    buf.writeBigUInt64LE(v, HEADER_SIZE + 8 * i);
  });
  return buf;
}

/** Checks a frame's header: magic, length within [HEADER_SIZE, max], count consistent with length. */
function checkHeader(frame: string, buf: Buffer, magic: number, countField: string, max: number): number {
  const m = buf.readUInt32LE(0);
  if (m !== magic) throw frameError(frame, 'magic', 'magic', 'not a call-word frame', m);
  const length = buf.readUInt32LE(4);
  const count = buf.readUInt32LE(12);
  const maxSize = HEADER_SIZE + 8 * max;
  if (count > max) throw frameError(frame, countField, `max-${countField}`, `at most ${max}`, count);
  if (length < HEADER_SIZE || length > maxSize) {
    throw frameError(frame, 'length', 'length-range', `a frame is ${HEADER_SIZE}..${maxSize} bytes`, length);
  }
  if (length !== HEADER_SIZE + 8 * count) {
    throw frameError(frame, 'length', 'length-matches-count', `must be ${HEADER_SIZE} + 8 × ${countField}`, length);
  }
  return length;
}

/** One request from the front of `buf`, or how many bytes are needed in all; throws FormatError for a bad header. */
export function decodeRequest(buf: Buffer): Decoded<RequestFrame> {
  if (buf.length < HEADER_SIZE) return { kind: 'need', bytes: HEADER_SIZE };
  const length = checkHeader('request', buf, REQUEST_MAGIC, 'nargs', MAX_ARGS);
  if (buf.length < length) return { kind: 'need', bytes: length };
  const nargs = buf.readUInt32LE(12);
  const args: bigint[] = [];
  for (let i = 0; i < nargs; i++) args.push(buf.readBigUInt64LE(HEADER_SIZE + 8 * i));
  return { kind: 'frame', frame: { word: buf.readUInt32LE(8), args }, size: length };
}

export function decodeResponse(buf: Buffer): Decoded<ResponseFrame> {
  if (buf.length < HEADER_SIZE) return { kind: 'need', bytes: HEADER_SIZE };
  const length = checkHeader('response', buf, RESPONSE_MAGIC, 'nvalues', MAX_VALUES);
  if (buf.length < length) return { kind: 'need', bytes: length };
  const nvalues = buf.readUInt32LE(12);
  const values: bigint[] = [];
  for (let i = 0; i < nvalues; i++) values.push(buf.readBigUInt64LE(HEADER_SIZE + 8 * i));
  return { kind: 'frame', frame: { status: buf.readInt32LE(8), values }, size: length };
}

export { MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE };
