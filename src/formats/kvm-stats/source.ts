/**
 * pread-like sources: the reader works the same on a Buffer, a captured file
 * and a live KVM stats fd. A source never moves a file position; every read
 * names its position.
 */
import { fstatSync, readSync } from 'node:fs';

export interface StatsSource {
  /** Reads up to `buf.length` bytes at `position` into `buf`; returns the count (0 at end of file). */
  read(buf: Uint8Array, position: number): number;
  /** Total size in bytes when known (a buffer, a regular file); undefined for a live stats fd. */
  readonly size?: number;
}

/** A source over bytes held in memory. Reads past the end return 0. */
export function bufferSource(bytes: Uint8Array): StatsSource {
  return {
    size: bytes.length,
    read(buf, position) {
      if (position >= bytes.length) return 0;
      const n = Math.min(buf.length, bytes.length - position);
      buf.set(bytes.subarray(position, position + n));
      return n;
    },
  };
}

/**
 * A source over an open file descriptor, read with pread (fs.readSync with a
 * position). A regular file reports its size; a KVM stats fd (an anonymous
 * inode of size 0) does not, and is bounded by the format's limits instead.
 */
export function fdSource(fd: number): StatsSource {
  const stat = fstatSync(fd);
  const size = stat.isFile() ? stat.size : undefined;
  return {
    size,
    read(buf, position) {
      if (buf.length === 0) return 0;
      return readSync(fd, buf, 0, buf.length, position);
    },
  };
}

/**
 * Fills `buf` from `position`, retrying short reads until the source returns
 * 0. Returns the number of bytes read; fewer than `buf.length` means the end
 * of the source. A source claiming more than it was asked for is clamped.
 */
export function readFully(source: StatsSource, buf: Uint8Array, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const view = done === 0 ? buf : buf.subarray(done);
    const n = source.read(view, position + done);
    if (!(n > 0)) break;
    done += Math.min(Math.floor(n), view.length);
  }
  return done;
}

/** A source size is trusted only when it is a finite non-negative integer. */
export function knownSize(source: StatsSource): number | undefined {
  const s = source.size;
  return typeof s === 'number' && Number.isSafeInteger(s) && s >= 0 ? s : undefined;
}

/** Reads of unknown-size sources start with this many bytes and grow only as data proves to exist. */
export const FIRST_CHUNK = 4096;

/**
 * Reads a block whose length came from the file. When the source size is
 * known the caller has already checked the block against it; otherwise the
 * block is read in chunks, each no larger than what has already been read
 * (after the first 4 KiB), so a lying header over a short source never makes
 * us allocate more than the source really holds. Returns the bytes, or the
 * number of bytes available when the source ends first.
 */
export function readBlock(source: StatsSource, position: number, length: number): Uint8Array | number {
  if (length <= FIRST_CHUNK || knownSize(source) !== undefined) {
    const buf = new Uint8Array(length);
    const n = readFully(source, buf, position);
    return n === length ? buf : n;
  }
  const chunks: Uint8Array[] = [];
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, Math.max(FIRST_CHUNK, done));
    const chunk = new Uint8Array(want);
    const n = readFully(source, chunk, position + done);
    done += n;
    if (n < want) return done;
    chunks.push(chunk);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
