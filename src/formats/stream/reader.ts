/**
 * The stream reader: parses and verifies a whole stream — image header, every record's length
 * bounds, checksum and zero padding, the record order and consistency (DOMAIN first; exactly one
 * VCPU per vCPU; memory chunks in address order covering exactly the domain's memory; END last,
 * nothing after it) — into a VerifiedImage. Nothing is applied anywhere: a caller applies the
 * image only once `finish()` returned it, so a bad stream leaves nothing behind.
 *
 * Incremental: bytes are pushed as they arrive (file reads, a socket) and each record is checked
 * as soon as it is complete. Allocation is bounded: a record body is buffered only after its
 * length passed MAX_RECORD_BODY and the rules of its type, and memory data is held only for chunks
 * inside the declared guest RAM (which is itself capped), each chunk at most once.
 *
 * The pool snapshot may span several POOLS records (the writer cuts it to fit MAX_RECORD_BODY):
 * they must be consecutive and carry the same format; their data is joined in order. The joined
 * size is capped by `maxPoolBytes` (default and cap MAX_POOL_BYTES), checked at each record header
 * before its body is buffered.
 *
 * Work is bounded by the guest the stream can describe: once DOMAIN is read, the stream may hold
 * at most the records and bytes such a guest needs (see #budgetFor) plus a small allowance of
 * unknown optional records; past either bound the stream is refused ('records' too-many-records,
 * 'stream' too-many-bytes, 'records' too-many-optional-records), checked at each record header, so
 * a flood of tiny records costs no more than a legitimate stream for the host's largest guest.
 * Skipped optional records are kept as a count per type, not one entry per record.
 *
 * Versions: a reader built from revision R reads streams of version R and R-1; a version R-1
 * stream is upgraded in memory (its whole-chunk `memory` records become the page map revision 2
 * holds). Any other version is refused with a message naming the version found and the ones read.
 */
import { findStruct, type ResolvedAbi } from '../../abi/resolved.ts';
import { FormatError } from '../../errors.ts';
import {
  liveRecordTypes,
  newestStreamVersion,
  readableVersions,
  streamConstant,
  streamRevision,
  streamStruct,
} from './abi.ts';
import { crc32 } from './checksum.ts';
import { decodeOptions, domainFromStruct, MAX_MEMORY_MIB, vcpuFromStruct } from './fields.ts';
import {
  type Blob,
  CHUNK_BYTES,
  MemoryImage,
  PAGE_BYTES,
  type StreamDomain,
  type StreamOptions,
  type VcpuState,
  type VerifiedImage,
} from './image.ts';
import { decodeStruct } from './struct-codec.ts';
import { RECORD } from './writer.ts';

const FORMAT = 'stream';
const HEADER_BYTES = 32;
const RECORD_HEADER_BYTES = 16;
const OPTIONAL = 0x8000_0000;

/**
 * Largest pool snapshot a reader accepts (all POOLS records together): 512 MiB, about 127k pages
 * in the pool service's format 1 — eight times the default host-wide pool budget (16384 pages),
 * and bounded like guest RAM so a hostile stream cannot make a reader hold more than that.
 */
export const MAX_POOL_BYTES = 512 * CHUNK_BYTES;

/**
 * Unknown optional records a reader accepts in one stream: a newer writer's additions, a handful
 * of kinds, not thousands; and the bytes they may add to the stream's budget in all.
 */
export const MAX_OPTIONAL_RECORDS = 1024;
export const MAX_OPTIONAL_BYTES = 16 << 20;

/** Record types this reader applies; any other optional type is skipped (and counted). */
const HANDLED_TYPES: ReadonlySet<number> = new Set(Object.values(RECORD));

export interface ReadOptions {
  /** Revision this reader is built from (default: the newest frozen one). */
  readerRevision?: number;
  /** Largest guest RAM accepted, in MiB (default and cap: 4096). */
  maxMemoryMiB?: number;
  /** Largest pool snapshot accepted, in bytes (default and cap: MAX_POOL_BYTES). */
  maxPoolBytes?: number;
}

const fail = (field: string, rule: string, message: string, value?: string | number | bigint): never => {
  throw new FormatError(FORMAT, field, rule, message, value === undefined ? undefined : String(value));
};

const hex = (n: number) => `0x${n.toString(16)}`;

export class StreamReader {
  readonly #readerRevision: number;
  readonly #maxMemoryMiB: number;
  readonly #maxPoolBytes: number;
  /** Pushed bytes not yet consumed: the pieces from index #head on (none of them empty). */
  readonly #queue: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  /** Stream offset of the first queued byte. */
  #offset = 0;
  #abi: ResolvedAbi | undefined;
  #version = 0;
  #options: StreamOptions | undefined;
  #records = 0;
  /** Header of the record whose body is awaited. */
  #pending: { type: number; length: number; checksum: number; raw: Uint8Array; at: number } | undefined;
  #ended = false;
  #failed: unknown;
  #domain: StreamDomain | undefined;
  readonly #vcpus: (VcpuState | undefined)[] = [];
  #memory: MemoryImage | undefined;
  #chunks = 0;
  /** The POOLS records read so far: their format and data pieces, joined by finish(). */
  #pools: { version: number; pieces: Uint8Array[]; bytes: number } | undefined;
  /** Type of the last record read (POOLS records must be consecutive). */
  #lastType: number | undefined;
  #stats: Blob | undefined;
  /** Skipped optional records: count per type, in the order first seen. */
  readonly #skipped = new Map<number, number>();
  #optionalRecords = 0;
  /** Bounds for the whole stream, set from DOMAIN (before it, DOMAIN alone may come). */
  #maxRecords = 1;
  #maxBytes = Number.POSITIVE_INFINITY;

  constructor(options: ReadOptions = {}) {
    this.#readerRevision = options.readerRevision ?? newestStreamVersion();
    this.#maxMemoryMiB = Math.min(options.maxMemoryMiB ?? MAX_MEMORY_MIB, MAX_MEMORY_MIB);
    this.#maxPoolBytes = Math.min(options.maxPoolBytes ?? MAX_POOL_BYTES, MAX_POOL_BYTES);
  }

  /** Versions this reader accepts. */
  get readable(): number[] {
    return readableVersions(this.#readerRevision);
  }

  /** True once END was read. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Feeds bytes; throws FormatError at the first broken rule (and on every later call). */
  push(bytes: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    try {
      if (bytes.length === 0) return;
      if (this.#ended) fail('stream', 'trailing-data', 'bytes follow the END record', this.#offset);
      this.#queue.push(bytes);
      this.#queued += bytes.length;
      this.#parse();
    } catch (err) {
      this.#failed = err;
      throw err;
    }
  }

  /** The verified image; throws FormatError if the stream is incomplete or inconsistent. */
  finish(): VerifiedImage {
    if (this.#failed) throw this.#failed;
    try {
      return this.#finish();
    } catch (err) {
      this.#failed = err;
      throw err;
    }
  }

  #finish(): VerifiedImage {
    if (!this.#abi)
      fail(
        'image_header',
        'truncated',
        `the stream ends after ${this.#offset + this.#queued} bytes, inside the image header`,
      );
    if (!this.#ended) {
      fail('stream', 'truncated', `the stream ends at byte ${this.#offset + this.#queued} before its END record`);
    }
    const d = this.#domain!;
    const vcpus: VcpuState[] = [];
    for (let i = 0; i < d.vcpus; i++) {
      const v = this.#vcpus[i];
      if (!v) fail(`vcpu_state[${i}]`, 'missing-vcpu', `no state for vCPU ${i} of ${d.vcpus}`);
      vcpus.push(v!);
    }
    const memory = this.#memory!;
    if (this.#chunks * CHUNK_BYTES < memory.size) {
      fail(
        'memory',
        'missing-chunks',
        `the memory records cover ${this.#chunks} of the domain's ${memory.size / CHUNK_BYTES} chunks`,
        this.#chunks,
      );
    }
    const pools = this.#pools && {
      version: this.#pools.version,
      data: this.#pools.pieces.length === 1 ? this.#pools.pieces[0]! : Buffer.concat(this.#pools.pieces),
    };
    return {
      version: this.#version,
      ...(this.#version < this.#readerRevision ? { upgradedFrom: this.#version } : {}),
      options: this.#options!,
      domain: d,
      vcpus,
      memory,
      ...(pools ? { pools } : {}),
      ...(this.#stats ? { stats: this.#stats } : {}),
      skipped: [...this.#skipped].map(([type, count]) => ({ type, count })),
    };
  }

  /**
   * Removes and returns the next `n` queued bytes as one array, or undefined if fewer are queued.
   * Any `n` from 0 up is fine whatever the chunking: 0 bytes are always there, even from an empty
   * queue (an empty record body ending exactly where the last chunk ended).
   */
  #take(n: number): Uint8Array | undefined {
    if (this.#queued < n) return undefined;
    let out: Uint8Array;
    const first = this.#queue[this.#head];
    if (n === 0) out = new Uint8Array(0);
    else if (first!.length >= n) {
      out = first!.subarray(0, n);
      this.#dropFromHead(n);
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const head = this.#queue[this.#head]!;
        const part = Math.min(head.length, n - filled);
        out.set(head.subarray(0, part), filled);
        filled += part;
        this.#dropFromHead(part);
      }
    }
    this.#queued -= n;
    this.#offset += n;
    return out;
  }

  /**
   * Drops `n` bytes (at most the whole piece) from the first queued piece. Used-up pieces are
   * skipped by index and cut off in bulk, so a stream pushed in many tiny chunks costs linear time
   * (Array#shift per piece would make it quadratic).
   */
  #dropFromHead(n: number): void {
    const piece = this.#queue[this.#head]!;
    if (n < piece.length) {
      this.#queue[this.#head] = piece.subarray(n);
      return;
    }
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #parse(): void {
    if (!this.#abi) {
      const header = this.#take(HEADER_BYTES);
      if (!header) return;
      this.#readHeader(header);
    }
    for (;;) {
      if (this.#ended) {
        if (this.#queued > 0) fail('stream', 'trailing-data', 'bytes follow the END record', this.#offset);
        return;
      }
      if (!this.#pending) {
        const at = this.#offset;
        const raw = this.#take(RECORD_HEADER_BYTES);
        if (!raw) return;
        this.#pending = { ...this.#readRecordHeader(raw, at), raw, at };
      }
      const p = this.#pending;
      const padded = p.length + ((8 - (p.length % 8)) % 8);
      const bytes = this.#take(padded);
      if (!bytes) return;
      this.#pending = undefined;
      // Own copy: the record may be kept (memory pages), and must not pin the caller's buffers.
      this.#record(p, new Uint8Array(bytes.subarray(0, p.length)), bytes.subarray(p.length));
    }
  }

  #readHeader(header: Uint8Array): void {
    // Identify with the newest revision's header layout (the header is fixed across revisions).
    const layoutAbi = streamRevision(this.#readerRevision);
    const h = decodeStruct(layoutAbi, 'image_header', header);
    if (h.marker !== streamConstant(layoutAbi, 'MARKER')) {
      fail('image_header.marker', 'bad-marker', 'not an hvkit stream', `0x${(h.marker as bigint).toString(16)}`);
    }
    if (h.ident !== streamConstant(layoutAbi, 'IDENT')) {
      fail('image_header.ident', 'bad-ident', 'not an hvkit stream', `0x${(h.ident as bigint).toString(16)}`);
    }
    const version = Number(h.version as bigint);
    const readable = this.readable;
    if (!readable.includes(version)) {
      const supported = readable.length > 1 ? `versions ${readable.join(' and ')}` : `version ${readable[0]} only`;
      fail(
        'image_header.version',
        'unsupported-version',
        `stream version ${version} cannot be read: this reader is version ${this.#readerRevision} and reads ${supported}`,
        version,
      );
    }
    const copy = new Uint8Array(header); // a copy even when given a Buffer (whose slice() is a view)
    copy.fill(0, 20, 24);
    const checksum = crc32(copy);
    if (checksum !== Number(h.header_checksum as bigint)) {
      fail(
        'image_header.header_checksum',
        'bad-checksum',
        `stored ${hex(Number(h.header_checksum))}, computed ${hex(checksum)}`,
      );
    }
    this.#abi = streamRevision(version);
    this.#version = version;
    this.#options = decodeOptions(h.options as bigint);
  }

  #readRecordHeader(raw: Uint8Array, at: number): { type: number; length: number; checksum: number } {
    const abi = this.#abi!;
    const where = `record[${this.#records}@${at}]`;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const type = view.getUint32(0, true);
    const length = view.getUint32(4, true);
    const checksum = view.getUint32(8, true);
    if (view.getUint32(12, true) !== 0)
      fail(`${where}.record_reserved`, 'reserved-nonzero', 'reserved bytes must be zero');
    const max = Number(streamConstant(abi, 'MAX_RECORD_BODY'));
    if (length > max) fail(`${where}.length`, 'too-long', `a record body is at most ${max} bytes`, length);
    const known = liveRecordTypes(abi);
    if (!known.has(type) && (type & OPTIONAL) === 0) {
      const retired = abi.records.find((r) => r.type === type && r.retired);
      fail(
        `${where}.type`,
        'unknown-mandatory',
        retired
          ? `record type ${type} (${retired.name}) is retired in stream version ${this.#version}`
          : `mandatory record type ${type} is unknown to stream version ${this.#version}: refusing the stream`,
        type,
      );
    }
    if (this.#records >= this.#maxRecords) {
      fail(
        'records',
        'too-many-records',
        `a stream for this domain holds at most ${this.#maxRecords} records`,
        this.#records + 1,
      );
    }
    const end = at + RECORD_HEADER_BYTES + length + ((8 - (length % 8)) % 8);
    if (end > this.#maxBytes) {
      fail('stream', 'too-many-bytes', `a stream for this domain is at most ${this.#maxBytes} bytes`, end);
    }
    if (!HANDLED_TYPES.has(type)) {
      if (this.#optionalRecords >= MAX_OPTIONAL_RECORDS) {
        fail(
          'records',
          'too-many-optional-records',
          `a stream holds at most ${MAX_OPTIONAL_RECORDS} unknown optional records`,
          this.#optionalRecords + 1,
        );
      }
      this.#optionalRecords++;
    }
    if (this.#records === 0 && type !== RECORD.domain) {
      fail(`${where}.type`, 'domain-first', 'the first record must be DOMAIN', type);
    }
    if (type === RECORD.pools) {
      // Bounded before the body is buffered: the data this record may add to the joined snapshot.
      const data = Math.max(0, length - streamStruct(abi, 'pool_blob').size);
      const held = this.#pools?.bytes ?? 0;
      if (held + data > this.#maxPoolBytes) {
        fail(
          `${where}.length`,
          'pools-too-large',
          `the pool snapshot may hold at most ${this.#maxPoolBytes} bytes in all: ${held} are read already and this record adds ${data}`,
          // The offending size (the joined snapshot this record would make), not the limit.
          held + data,
        );
      }
    }
    return { type, length, checksum };
  }

  #record(
    p: { type: number; length: number; checksum: number; raw: Uint8Array; at: number },
    body: Uint8Array,
    pad: Uint8Array,
  ): void {
    const where = `record[${this.#records}@${p.at}]`;
    if (pad.some((b) => b !== 0)) fail(`${where}.padding`, 'padding-nonzero', 'padding after a body must be zero');
    const head = new Uint8Array(p.raw);
    head.fill(0, 8, 12);
    const checksum = crc32(body, crc32(head));
    if (checksum !== p.checksum) {
      fail(`${where}.checksum`, 'bad-checksum', `stored ${hex(p.checksum)}, computed ${hex(checksum)}`);
    }
    this.#records++;
    const previous = this.#lastType;
    this.#lastType = p.type;
    const abi = this.#abi!;
    switch (p.type) {
      case RECORD.domain:
        this.#readDomain(where, body);
        return;
      case RECORD.vcpu:
        this.#readVcpu(where, body);
        return;
      case RECORD.memory:
        this.#readMemoryV1(where, body);
        return;
      case RECORD.memoryPages:
        this.#readMemoryPages(where, body);
        return;
      case RECORD.pools:
        this.#readPoolPiece(where, body, previous);
        return;
      case RECORD.stats:
        this.#stats = this.#readBlob(where, body, 'stats_blob', 'revision', this.#stats);
        return;
      case RECORD.end:
        this.#exact(where, body, 'end');
        decodeStruct(abi, 'end', body);
        this.#ended = true;
        return;
      default:
        // An unknown optional record (the mandatory ones were refused at their header).
        this.#skipped.set(p.type, (this.#skipped.get(p.type) ?? 0) + 1);
    }
  }

  #exact(where: string, body: Uint8Array, struct: string, extra = 0): void {
    const size = streamStruct(this.#abi!, struct).size + extra;
    if (body.length !== size)
      fail(`${where}.length`, 'bad-length', `a ${struct} record body is ${size} bytes`, body.length);
  }

  #readDomain(where: string, body: Uint8Array): void {
    if (this.#domain) fail(`${where}.type`, 'duplicate-domain', 'a stream has one DOMAIN record');
    this.#exact(where, body, 'domain_header');
    const d = domainFromStruct(this.#abi!, decodeStruct(this.#abi!, 'domain_header', body));
    if (d.memoryMiB > this.#maxMemoryMiB) {
      fail(
        `${where}.memory_mib`,
        'too-much-memory',
        `this reader accepts at most ${this.#maxMemoryMiB} MiB`,
        d.memoryMiB,
      );
    }
    this.#domain = d;
    this.#memory = new MemoryImage(d.memoryMiB * CHUNK_BYTES);
    const budget = this.#budgetFor(d);
    this.#maxRecords = budget.records;
    this.#maxBytes = budget.bytes;
  }

  /**
   * The most records and bytes a stream of domain `d` can need: DOMAIN, one VCPU per vCPU, one
   * memory record per chunk (each at most a full chunk plus its head), the pool snapshot in as
   * many POOLS records as the writer cuts the largest accepted one into, STATS, END — plus the
   * unknown optional records allowed. Anything past it is not a stream a writer makes.
   */
  #budgetFor(d: StreamDomain): { records: number; bytes: number } {
    const abi = this.#abi!;
    const maxBody = Number(streamConstant(abi, 'MAX_RECORD_BODY'));
    const poolPiece = maxBody - streamStruct(abi, 'pool_blob').size;
    const poolRecords = Math.max(1, Math.ceil(this.#maxPoolBytes / poolPiece));
    const chunks = d.memoryMiB;
    const mandatory = 1 + d.vcpus + chunks + poolRecords + 1 + 1;
    const records = mandatory + MAX_OPTIONAL_RECORDS;
    // Every fixed head and padding, counted as the largest one for each record (a small overcount).
    const heads = ['domain_header', 'vcpu_state', 'memory_chunk', 'memory_pages', 'pool_blob', 'stats_blob', 'end'];
    const largestHead = Math.max(...heads.map((name) => findStruct(abi, name)?.size ?? 0));
    const perRecord = RECORD_HEADER_BYTES + largestHead + 7;
    const data = chunks * CHUNK_BYTES + this.#maxPoolBytes + maxBody /* stats */ + MAX_OPTIONAL_BYTES;
    return { records, bytes: HEADER_BYTES + records * perRecord + data };
  }

  #readVcpu(where: string, body: Uint8Array): void {
    this.#exact(where, body, 'vcpu_state');
    const d = this.#domain!;
    const v = vcpuFromStruct(this.#abi!, decodeStruct(this.#abi!, 'vcpu_state', body), d.cpu);
    if (v.vcpu >= d.vcpus) fail(`${where}.vcpu`, 'vcpu-out-of-range', `the domain has ${d.vcpus} vCPUs`, v.vcpu);
    if (this.#vcpus[v.vcpu]) fail(`${where}.vcpu`, 'duplicate-vcpu', `vCPU ${v.vcpu} has two records`, v.vcpu);
    this.#vcpus[v.vcpu] = v;
  }

  /** Checks a chunk head's address and extent; returns the bytes the chunk covers. */
  #chunkExtent(where: string, gpa: bigint): number {
    const memory = this.#memory!;
    const expected = this.#chunks * CHUNK_BYTES;
    if (expected >= memory.size)
      fail(`${where}.gpa`, 'memory-overflow', `guest RAM is ${memory.size} bytes; this chunk lies past it`, gpa);
    if (gpa !== BigInt(expected))
      fail(`${where}.gpa`, 'chunk-order', `chunks come in address order: expected ${hex(expected)}`, gpa);
    this.#chunks++;
    return Math.min(CHUNK_BYTES, memory.size - expected);
  }

  #readMemoryV1(where: string, body: Uint8Array): void {
    const abi = this.#abi!;
    if (body.length < streamStruct(abi, 'memory_chunk').size) this.#exact(where, body, 'memory_chunk');
    const h = decodeStruct(abi, 'memory_chunk', body);
    const gpa = Number(h.gpa as bigint);
    const bytes = this.#chunkExtent(where, h.gpa as bigint);
    if (h.size !== BigInt(bytes))
      fail(`${where}.size`, 'chunk-size', `this chunk covers ${bytes} bytes`, h.size as bigint);
    const flags = h.flags as bigint;
    if (flags & ~1n) fail(`${where}.flags`, 'unknown-flag', 'unknown memory flags set', flags);
    const zero = flags === 1n;
    this.#exact(where, body, 'memory_chunk', zero ? 0 : bytes);
    if (zero) return;
    // Upgrade to the revision-2 representation: keep the non-zero pages only.
    const data = body.subarray(16);
    for (let p = 0; p * PAGE_BYTES < bytes; p++) {
      const page = data.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
      if (page.some((b) => b !== 0)) this.#memory!.setPage(gpa / PAGE_BYTES + p, page);
    }
  }

  #readMemoryPages(where: string, body: Uint8Array): void {
    const abi = this.#abi!;
    const headSize = streamStruct(abi, 'memory_pages').size;
    if (body.length < headSize) this.#exact(where, body, 'memory_pages');
    const h = decodeStruct(abi, 'memory_pages', body);
    const gpa = Number(h.gpa as bigint);
    const bytes = this.#chunkExtent(where, h.gpa as bigint);
    const pages = Math.ceil(bytes / PAGE_BYTES);
    if (h.pages !== BigInt(pages))
      fail(`${where}.pages`, 'chunk-pages', `this chunk covers ${pages} pages`, h.pages as bigint);
    const present = h.present as bigint[];
    const listed: number[] = [];
    for (let p = 0; p < 256; p++) {
      if (((present[p >> 6]! >> BigInt(p & 63)) & 1n) === 0n) continue;
      if (p >= pages) fail(`${where}.present`, 'page-out-of-chunk', `page ${p} is past the chunk's ${pages} pages`);
      listed.push(p);
    }
    this.#exact(where, body, 'memory_pages', listed.length * PAGE_BYTES);
    listed.forEach((p, i) => {
      const at = headSize + i * PAGE_BYTES;
      this.#memory!.setPage(gpa / PAGE_BYTES + p, body.subarray(at, at + PAGE_BYTES));
    });
  }

  /** One POOLS record: the first, or the next piece of the snapshot right after the previous one. */
  #readPoolPiece(where: string, body: Uint8Array, previousType: number | undefined): void {
    const pools = this.#pools;
    if (pools && previousType !== RECORD.pools) {
      fail(`${where}.type`, 'pools-not-consecutive', 'the POOLS records of a stream follow each other');
    }
    const piece = this.#readBlob(where, body, 'pool_blob', 'format', undefined);
    if (!pools) {
      this.#pools = { version: piece.version, pieces: [piece.data], bytes: piece.data.length };
      return;
    }
    if (piece.version !== pools.version) {
      fail(
        `${where}.format`,
        'pools-format-mismatch',
        `the first POOLS record has format ${pools.version}`,
        piece.version,
      );
    }
    pools.pieces.push(piece.data);
    pools.bytes += piece.data.length;
  }

  #readBlob(where: string, body: Uint8Array, struct: string, versionField: string, previous: Blob | undefined): Blob {
    if (previous) fail(`${where}.type`, 'duplicate-record', `a stream has at most one ${struct} record`);
    const head = streamStruct(this.#abi!, struct).size;
    if (body.length < head) this.#exact(where, body, struct);
    const h = decodeStruct(this.#abi!, struct, body);
    this.#exact(where, body, struct, Number(h.size as bigint));
    return { version: Number(h[versionField] as bigint), data: body.subarray(head) };
  }
}

/** Verifies a whole stream held in memory (see StreamReader). */
export function verifyStream(bytes: Uint8Array, options: ReadOptions = {}): VerifiedImage {
  const reader = new StreamReader(options);
  reader.push(bytes);
  return reader.finish();
}
