/**
 * Regions backed by files under /dev/shm, mapped with mmap (through the koffi libc bindings of
 * src/os/libc.ts), so that another process — possibly unprivileged, mapping read-only — can read
 * what the owner writes.
 *
 * The owner creates the file exclusively with mode 0644 (so others can read but never write or
 * truncate it), sizes it with ftruncate (zero-filled) and unlinks it on close. Readers open it
 * O_RDONLY and map it PROT_READ: a reader cannot disturb the producer.
 *
 * Every open goes through openInput (src/os/open-input.ts): O_NOFOLLOW (a symlink planted under a
 * table's name is refused, not followed) and O_NONBLOCK (a FIFO planted under it would block
 * open(2) forever), then fstat must show a regular file before anything is mapped: anyone may
 * create files in /dev/shm.
 *
 * A mapping of a file someone else owns carries one risk no check at open removes: if its owner
 * truncates it, touching a page past the new end raises SIGBUS and kills the reader. Tools open
 * regions through src/attach/region-open.ts, which maps only files of the reader's own user and
 * copies the others with pread (src/attach/table-copy.ts).
 *
 * `koffi.view` gives a non-shared ArrayBuffer over the mapping: Atomics.load/store work on it,
 * Atomics.wait does not. The ArrayBuffer cannot be detached, so close() first makes every holder
 * drop its views (Region.onClose) and only then unmaps.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  ftruncateSync,
  openSync,
  readdirSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { isErrno, UsageError } from '../errors.ts';
import { MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE } from '../os/libc.ts';
import { FileRefusedError, type InputFile, openInput } from '../os/open-input.ts';
import { type Region, ViewRegion } from './region.ts';

export const SHM_DIR = '/dev/shm';
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;
/** Refuse to map absurd sizes read from a file we do not own. */
const MAX_REGION = 1 << 30;

export type ShmFileRule = 'symlink' | 'not-regular-file' | 'empty' | 'too-large' | 'owner-mismatch' | 'truncated';

/**
 * A /dev/shm file refused before mapping, or shrunk under a reader: `rule` says why. An
 * environment error (the CLI exits 2): the file is not as needed, its bytes are not at fault.
 */
export class ShmFileError extends FileRefusedError<ShmFileRule> {
  override readonly name: string = 'ShmFileError';
}

/** An open descriptor of a checked /dev/shm file; whoever holds it closes it (or maps it). */
export interface ShmFile {
  name: string;
  path: string;
  fd: number;
  /** fstat of the descriptor: a regular file of 1..MAX_REGION bytes. */
  stat: Stats;
  writable: boolean;
}

export function shmPath(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`invalid shared-memory name ${JSON.stringify(name)}: use [A-Za-z0-9._-]`);
  return join(SHM_DIR, name);
}

function mapFd(fd: number, name: string, length: number, writable: boolean, unlinkOnClose: boolean): Region {
  let mapping: ReturnType<typeof mmap>;
  try {
    mapping = mmap(length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd);
  } catch (e) {
    closeSync(fd);
    if (unlinkOnClose) unlinkSync(shmPath(name));
    throw e;
  }
  // The mapping keeps the file's pages alive; the descriptor is no longer needed.
  closeSync(fd);
  const release = () => {
    munmap(mapping);
    if (unlinkOnClose) unlinkSync(shmPath(name));
  };
  return new ViewRegion(name, mapping.bytes.buffer, mapping.bytes.byteOffset, length, writable, release);
}

/**
 * Creates /dev/shm/<name> (fails if it exists), sizes it to `length` zero bytes and maps it
 * read-write. close() unmaps and removes the file.
 */
export function createShmRegion(name: string, length: number): Region {
  if (!Number.isSafeInteger(length) || length <= 0 || length > MAX_REGION) {
    throw new UsageError(`shared-memory region length out of range: ${length}`);
  }
  const path = shmPath(name);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    fchmodSync(fd, 0o644); // independent of the umask
    ftruncateSync(fd, length);
  } catch (e) {
    closeSync(fd);
    unlinkSync(path);
    throw e;
  }
  return mapFd(fd, name, length, true, true);
}

/**
 * Opens an existing /dev/shm/<name> without following a symlink or blocking on a FIFO and checks,
 * on the descriptor itself, that it is a non-empty regular file of sane size (ShmFileError
 * otherwise). Read-only unless `writable` is set.
 */
export function openShmFile(name: string, options: { writable?: boolean } = {}): ShmFile {
  const writable = options.writable ?? false;
  const path = shmPath(name);
  let input: InputFile;
  try {
    input = openInput(path, { writable });
  } catch (e) {
    // The same refusals, under the rules every /dev/shm reader matches on.
    if (e instanceof FileRefusedError && !(e instanceof ShmFileError)) throw new ShmFileError(path, e.rule, e.detail);
    throw e;
  }
  const { fd, stat } = input;
  try {
    if (stat.size <= 0) throw new ShmFileError(path, 'empty', 'is empty (not yet sized by its producer?)');
    if (stat.size > MAX_REGION) throw new ShmFileError(path, 'too-large', `is larger than ${MAX_REGION} bytes`);
    return { name, path, fd, stat, writable };
  } catch (e) {
    input.close();
    throw e;
  }
}

/** Closes a file opened by openShmFile that is not handed on (mapped or copied). */
export function closeShmFile(file: ShmFile): void {
  closeSync(file.fd);
}

/** Maps a file opened by openShmFile (its whole size) and closes the descriptor. */
export function mapShmFile(file: ShmFile): Region {
  return mapFd(file.fd, file.name, file.stat.size, file.writable, false);
}

/**
 * Maps an existing /dev/shm/<name> (checked as openShmFile does): read-only (O_RDONLY, PROT_READ)
 * unless `writable` is set. The length is the file's size. The file is not removed on close.
 */
export function openShmRegion(name: string, options: { writable?: boolean } = {}): Region {
  return mapShmFile(openShmFile(name, options));
}

/** The names under `dir` (default /dev/shm); none when it is missing or not ours to list. */
export function listShmNames(dir = SHM_DIR): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'EACCES')) return [];
    throw e;
  }
}
