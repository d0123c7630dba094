/**
 * Whole-file reads of a KVM binary stats fd. The kernel serves header, id, descriptors and data
 * block as one contiguous file and returns 0 past its end, so pread from 0 until end of file gives
 * exactly the bytes a capture must keep.
 */
import { readSync } from 'node:fs';
import { KvmError } from './errors.ts';

/**
 * Refuses files larger than this: well above header + 65536 descriptors of 4 KiB names + 16 MiB of
 * data, the reader's own limits.
 */
export const MAX_STATS_FILE_BYTES = 512 * 1024 * 1024;

const CHUNK = 64 * 1024;

/** Preads the whole stats file behind `fd` (position untouched). */
export function readStatsFile(fd: number, maxBytes = MAX_STATS_FILE_BYTES): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    let filled = 0;
    while (filled < CHUNK) {
      const n = readSync(fd, chunk, filled, CHUNK - filled, total + filled);
      if (n === 0) break;
      filled += n;
    }
    total += filled;
    if (total > maxBytes) throw new KvmError(`stats fd ${fd}: file exceeds ${maxBytes} bytes`);
    chunks.push(chunk.subarray(0, filled));
    if (filled < CHUNK) return Buffer.concat(chunks, total);
  }
}
