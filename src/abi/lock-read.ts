/** Reading a lock file from disk: the one careful read shared by `hvkit abi` and the formats' frozen revisions. */
import { EnvironmentError, FormatError } from '../errors.ts';
import { openInput, preadFully } from '../os/open-input.ts';
import { MAX_LOCK_BYTES, parseLock } from './lockfile.ts';
import type { ResolvedAbi } from './resolved.ts';

/**
 * Reads one lock file as every input is read (src/os/open-input.ts: no FIFO blocks, no symlink
 * followed, regular files only), and never more than MAX_LOCK_BYTES of it, whatever stat says.
 */
export function readLock(path: string, where: string): ResolvedAbi {
  const tooLarge = () =>
    new FormatError(`lock ${where}`, '(file)', 'too-large', `lock files are limited to ${MAX_LOCK_BYTES} bytes`);
  const file = openInput(path);
  try {
    if (file.stat.size > MAX_LOCK_BYTES) throw tooLarge();
    // One byte more than fstat said: a file that grows while it is read is refused, not half-read.
    const bytes = new Uint8Array(file.stat.size + 1);
    const n = preadFully(file, bytes, 0);
    if (n > file.stat.size) throw new EnvironmentError(`${path}: the file grew while it was read`);
    return parseLock(new TextDecoder().decode(bytes.subarray(0, n)), where);
  } finally {
    file.close();
  }
}
