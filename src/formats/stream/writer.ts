/**
 * The stream writer: the image header, then DOMAIN, one VCPU per vCPU, the memory chunks in
 * address order (revision 2: `memory_pages` with per-page zero elision; revision 1: `memory` with
 * whole-chunk elision), POOLS and STATS when given, END. It yields the stream as pieces (record
 * headers, bodies, memory pages, padding) so a 256 MiB guest is never copied whole: the caller
 * writes them to a file or a socket as they come.
 *
 * No record body exceeds MAX_RECORD_BODY (readers refuse longer ones): the pool snapshot, which
 * grows with the pools and not with guest RAM, is cut into consecutive POOLS records, each with its
 * own `pool_blob` head (same format, `size` = that piece), which a reader joins back in order. Any
 * other record that would be too long is refused with a FormatError before it is yielded, so a
 * save fails (and removes its temporary file) instead of writing a stream no reader accepts.
 */
import { findField, type ResolvedAbi } from '../../abi/resolved.ts';
import { FormatError, UsageError } from '../../errors.ts';
import { newestStreamVersion, streamConstant, streamRevision, streamStruct } from './abi.ts';
import { crc32 } from './checksum.ts';
import { domainToStruct, encodeOptions, vcpuToStruct } from './fields.ts';
import { CHUNK_BYTES, type ImageToWrite, PAGE_BYTES } from './image.ts';
import { encodeStruct } from './struct-codec.ts';

export const RECORD = {
  end: 0,
  domain: 1,
  vcpu: 2,
  memory: 3,
  memoryPages: 4,
  pools: 0x8000_0001,
  stats: 0x8000_0002,
} as const;

const PADDING = new Uint8Array(8);
const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);

export interface WriteOptions {
  /** Stream version to write (default: the newest frozen revision). Only tests write older ones. */
  version?: number;
}

const ZERO_CHUNK = Buffer.alloc(CHUNK_BYTES);

/** Native compare against zeros (memcmp speed): pages of a guest are mostly zero or not at all. */
function isZero(bytes: Uint8Array): boolean {
  const zeros = bytes.length <= PAGE_BYTES ? ZERO_PAGE : ZERO_CHUNK;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(zeros.subarray(0, bytes.length));
}

function* imageHeader(abi: ResolvedAbi, image: ImageToWrite): Generator<Uint8Array> {
  const value = {
    marker: streamConstant(abi, 'MARKER'),
    ident: streamConstant(abi, 'IDENT'),
    version: BigInt(abi.revision),
    options: encodeOptions(image.options),
    header_checksum: 0n,
  };
  const header = encodeStruct(abi, 'image_header', value);
  const checksum = crc32(header);
  yield encodeStruct(abi, 'image_header', { ...value, header_checksum: BigInt(checksum) });
}

/** One record: header (with the checksum over header and body), the body pieces, zero padding. */
function* record(abi: ResolvedAbi, type: number, body: Uint8Array[]): Generator<Uint8Array> {
  const length = body.reduce((n, p) => n + p.length, 0);
  const max = Number(streamConstant(abi, 'MAX_RECORD_BODY'));
  if (length > max) {
    throw new FormatError(
      'stream',
      `record[type 0x${type.toString(16)}].length`,
      'too-long',
      `a record body is at most ${max} bytes: refusing to write one no reader accepts`,
      String(length),
    );
  }
  const head = encodeStruct(abi, 'record_header', { type: BigInt(type), length: BigInt(length), checksum: 0n });
  let checksum = crc32(head);
  for (const p of body) checksum = crc32(p, checksum);
  new DataView(head.buffer).setUint32(
    findField(streamStruct(abi, 'record_header'), 'checksum')!.offset,
    checksum,
    true,
  );
  yield head;
  yield* body;
  const pad = (8 - (length % 8)) % 8;
  if (pad) yield PADDING.subarray(0, pad);
}

function* memoryRecords(abi: ResolvedAbi, image: ImageToWrite): Generator<Uint8Array> {
  const size = image.memory.size;
  for (let gpa = 0; gpa < size; gpa += CHUNK_BYTES) {
    const bytes = Math.min(CHUNK_BYTES, size - gpa);
    const chunk = image.memory.read(gpa, bytes);
    if (abi.revision === 1) {
      const zero = isZero(chunk);
      const head = encodeStruct(abi, 'memory_chunk', { gpa: BigInt(gpa), size: BigInt(bytes), flags: zero ? 1n : 0n });
      yield* record(abi, RECORD.memory, zero ? [head] : [head, chunk]);
      continue;
    }
    const pages = Math.ceil(bytes / PAGE_BYTES);
    const present = [0n, 0n, 0n, 0n];
    const data: Uint8Array[] = [];
    for (let p = 0; p < pages; p++) {
      const page = chunk.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
      if (isZero(page)) continue;
      present[p >> 6]! |= 1n << BigInt(p & 63);
      data.push(page);
    }
    const head = encodeStruct(abi, 'memory_pages', { gpa: BigInt(gpa), pages: BigInt(pages), present });
    yield* record(abi, RECORD.memoryPages, [head, ...data]);
  }
}

function blob(abi: ResolvedAbi, struct: string, versionField: string, b: { version: number; data: Uint8Array }) {
  return [encodeStruct(abi, struct, { [versionField]: BigInt(b.version), size: BigInt(b.data.length) }), b.data];
}

/** The pool snapshot as consecutive POOLS records, each body at most MAX_RECORD_BODY (one record when it fits). */
function* poolRecords(abi: ResolvedAbi, pools: { version: number; data: Uint8Array }): Generator<Uint8Array> {
  const piece = Number(streamConstant(abi, 'MAX_RECORD_BODY')) - streamStruct(abi, 'pool_blob').size;
  let at = 0;
  do {
    const data = pools.data.subarray(at, at + piece);
    yield* record(abi, RECORD.pools, blob(abi, 'pool_blob', 'format', { version: pools.version, data }));
    at += piece;
  } while (at < pools.data.length);
}

/** The stream of `image`, piece by piece. Throws RangeError/UsageError for an inconsistent image. */
export function* streamPieces(image: ImageToWrite, options: WriteOptions = {}): Generator<Uint8Array> {
  const abi = streamRevision(options.version ?? newestStreamVersion());
  const d = image.domain;
  if (image.vcpus.length !== d.vcpus)
    throw new UsageError(`image has ${image.vcpus.length} vCPU states for ${d.vcpus} vCPUs`);
  if (image.memory.size !== d.memoryMiB * CHUNK_BYTES) {
    throw new UsageError(`image memory is ${image.memory.size} bytes for ${d.memoryMiB} MiB`);
  }
  yield* imageHeader(abi, image);
  yield* record(abi, RECORD.domain, [encodeStruct(abi, 'domain_header', domainToStruct(abi, d))]);
  for (const v of image.vcpus) yield* record(abi, RECORD.vcpu, [encodeStruct(abi, 'vcpu_state', vcpuToStruct(abi, v))]);
  yield* memoryRecords(abi, image);
  if (image.pools) yield* poolRecords(abi, image.pools);
  if (image.stats) yield* record(abi, RECORD.stats, blob(abi, 'stats_blob', 'revision', image.stats));
  yield* record(abi, RECORD.end, [new Uint8Array(8)]);
}

/** The whole stream in one buffer (small images, tests). */
export function encodeStream(image: ImageToWrite, options: WriteOptions = {}): Uint8Array {
  return Buffer.concat([...streamPieces(image, options)]);
}

/** Writes one extra record (tests: unknown or hand-made records) between `stream`'s last record and END. */
export function insertRecordBeforeEnd(
  stream: Uint8Array,
  type: number,
  body: Uint8Array,
  version?: number,
): Uint8Array {
  const abi = streamRevision(version ?? newestStreamVersion());
  const endBytes = 16 + 8;
  const extra = Buffer.concat([...record(abi, type, [body])]);
  return Buffer.concat([
    stream.subarray(0, stream.length - endBytes),
    extra,
    stream.subarray(stream.length - endBytes),
  ]);
}
