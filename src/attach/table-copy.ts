/**
 * A stats table read through pread copies instead of a mapping, for tables owned by another
 * user. A mapping of a file whose owner may truncate it is a SIGBUS waiting to happen (touching a
 * page past the new end kills the reader); a pread past the end just comes back short, which is
 * reported as a ShmFileError (rule 'truncated': the file changed under the reader, an
 * environment error, not bad bytes).
 *
 * A pread is not one atomic load per sequence word, so the copy itself cannot tell a torn group:
 * its sequence word and data are read by a kernel memcpy while the producer may be writing them.
 * Each refresh therefore reads whole copies c0, c1, c2, … of the table and takes a group's bytes
 * from copy c(i) only when its sequence word is even and equal in c(i-1) and c(i+1): those two
 * reads finished before c(i) started and began after it ended, so no update of the group
 * overlapped c(i) — whatever order the kernel copies bytes in. The number of copies is bounded;
 * a group that never settles gets an odd sequence word in the private copy, so the reader
 * reports it torn. The header is taken from two consecutive copies that agree (a u64 identity
 * word caught mid-store in one copy cannot equal its value in the next unless it did not change).
 *
 * The reader (StatsTableReader) then runs its usual seqlocked snapshot over the private copy.
 *
 * Before bind() (a region of another format, e.g. a domain directory, which changes rarely) a
 * refresh takes whole copies until two consecutive ones are equal: a group torn in the first
 * would have changed by the second (its sequence word or its data), so an equal pair holds no
 * group an update overlapped.
 */
import { closeSync, readSync } from 'node:fs';
import { environmentError, FormatError, InternalError } from '../errors.ts';
import type { StatsTableReader } from '../formats/stats-table/reader.ts';
import { type Region, ViewRegion } from '../shm/region.ts';
import { type ShmFile, ShmFileError } from '../shm/shm-file.ts';

const FORMAT = 'stats-table';
/** Largest table read through copies: the private buffers are sized from the file. */
export const MAX_COPIED_TABLE = 64 << 20;
/** Whole copies per refresh beyond the first two (bounds the work while the producer is busy). */
export const MAX_EXTRA_COPIES = 6;
/**
 * The bytes compared to settle the header before the reader exists: the domain block's layout
 * header (128 bytes in every revision). Groups after it may change on every copy while their
 * producer is busy; the reader's seqlock checks handle those.
 */
const PRIME_BYTES = 128;

interface CopiedGroup {
  /** Word index of the group's sequence word. */
  seq: number;
  start: number;
  end: number;
}

/** pread(2): fills `dst` from `position` of the file, returns the bytes read (0 at the end). */
export type PreadFn = (fd: number, dst: Uint8Array, dstOffset: number, length: number, position: number) => number;

class Copy {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.words = new Uint32Array(this.bytes.buffer, 0, Math.floor(length / 4));
  }
}

export class CopiedTable {
  /** The private copy the reader reads, refreshed by refresh(). Closing it closes the file. */
  readonly region: Region;
  readonly #fd: number;
  readonly #path: string;
  readonly #out: Uint8Array;
  readonly #outWords: Uint32Array;
  #copies: Copy[] = [];
  #groups: CopiedGroup[] = [];
  #settled = new Uint8Array(0);
  #whole: Uint8Array | undefined;
  #headerSize = 0;
  #fdOpen = true;
  readonly #readAt: PreadFn;

  private constructor(file: ShmFile, readAt: PreadFn) {
    this.#readAt = readAt;
    this.#fd = file.fd;
    this.#path = file.path;
    const size = file.stat.size;
    this.#out = new Uint8Array(size);
    this.#outWords = new Uint32Array(this.#out.buffer, 0, Math.floor(size / 4));
    this.region = new ViewRegion(file.name, this.#out.buffer, 0, size, false, () => this.#closeFd());
  }

  /**
   * Takes over the descriptor of `file` (closed on every path) and makes a first whole copy whose
   * header two reads agree on, for StatsTableReader.open to validate; then call bind().
   */
  static open(file: ShmFile, readAt: PreadFn = readSync): CopiedTable {
    if (file.stat.size > MAX_COPIED_TABLE) {
      closeSync(file.fd);
      throw new ShmFileError(file.path, 'too-large', `is larger than ${MAX_COPIED_TABLE} bytes (copied tables)`);
    }
    const t = new CopiedTable(file, readAt);
    try {
      t.#prime();
      return t;
    } catch (e) {
      t.region.close();
      throw e;
    }
  }

  #prime(): void {
    const head = new Uint8Array(Math.min(PRIME_BYTES, this.#out.length));
    for (let attempt = 0; attempt <= MAX_EXTRA_COPIES; attempt++) {
      this.#pread(this.#out);
      this.#pread(head);
      if (equalRange(this.#out, head, 0, head.length)) return;
    }
    throw new FormatError(FORMAT, 'dom', 'unsettled', `the header of ${this.#path} kept changing while copied`);
  }

  /** Learns from the reader which bytes it reads and where every group's sequence word is. */
  bind(reader: StatsTableReader): void {
    const extent = reader.extent;
    this.#headerSize = Math.min(reader.model.headerSize, extent);
    this.#groups = reader.readSlots.map((i) => {
      const s = reader.slots[i]!;
      const start = s.blockStart + s.group.offset;
      return { seq: (s.blockStart + s.group.seqOffset) / 4, start, end: start + s.length };
    });
    this.#settled = new Uint8Array(this.#groups.length);
    this.#copies = [new Copy(extent), new Copy(extent), new Copy(extent)];
  }

  /** Replaces the private copy with a fresh, verified one (see the module comment). */
  refresh(): void {
    if (this.#copies.length === 0) {
      this.#settleWhole();
      return;
    }
    const out = this.#out;
    const outWords = this.#outWords;
    const groups = this.#groups;
    const settled = this.#settled;
    settled.fill(0);
    let [before, middle, spare] = this.#copies as [Copy, Copy, Copy];
    this.#pread(before.bytes);
    this.#pread(middle.bytes);
    out.set(middle.bytes); // bytes outside the header and the groups (padding, unknown words)
    let headerOk = equalRange(before.bytes, middle.bytes, 0, this.#headerSize);
    let pending = groups.length;
    for (let extra = 0; extra < MAX_EXTRA_COPIES && (pending > 0 || !headerOk); extra++) {
      const after = spare;
      this.#pread(after.bytes);
      for (let k = 0; k < groups.length; k++) {
        if (settled[k]) continue;
        const g = groups[k]!;
        const seq = before.words[g.seq]!;
        if ((seq & 1) !== 0 || after.words[g.seq] !== seq) continue;
        out.set(middle.bytes.subarray(g.start, g.end), g.start);
        outWords[g.seq] = seq;
        settled[k] = 1;
        pending--;
      }
      if (!headerOk && equalRange(middle.bytes, after.bytes, 0, this.#headerSize)) {
        out.set(after.bytes.subarray(0, this.#headerSize));
        headerOk = true;
      }
      spare = before;
      before = middle;
      middle = after;
    }
    if (!headerOk) out.set(middle.bytes.subarray(0, this.#headerSize));
    for (let k = 0; k < groups.length; k++) {
      if (settled[k]) continue;
      const g = groups[k]!;
      out.set(middle.bytes.subarray(g.start, g.end), g.start);
      outWords[g.seq] = middle.words[g.seq]! | 1; // never settled: the reader reports it torn
    }
  }

  /** Unbound: whole copies until two consecutive ones agree, into the private copy. */
  #settleWhole(): void {
    if (!this.#fdOpen) throw new InternalError('CopiedTable.refresh after close');
    this.#whole ??= new Uint8Array(this.#out.length);
    for (let attempt = 0; attempt <= MAX_EXTRA_COPIES; attempt++) {
      this.#pread(this.#out);
      this.#pread(this.#whole);
      if (equalRange(this.#out, this.#whole, 0, this.#out.length)) return;
    }
    throw new FormatError('region', 'region', 'unsettled', `${this.#path} kept changing while copied`);
  }

  /** Fills `dst` from offset 0 of the file; a short read means the owner shrank the file. */
  #pread(dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      let n: number;
      try {
        n = this.#readAt(this.#fd, dst, done, dst.length - done, done);
      } catch (err) {
        throw environmentError(this.#path, err);
      }
      if (n === 0) {
        throw new ShmFileError(
          this.#path,
          'truncated',
          `ends before byte ${dst.length}, at byte ${done}: it was shrunk while being read`,
        );
      }
      done += n;
    }
  }

  #closeFd(): void {
    if (!this.#fdOpen) return;
    this.#fdOpen = false;
    closeSync(this.#fd);
  }
}

function equalRange(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}
