/**
 * Regions backed by files under /dev/shm, mapped with mmap (through the koffi libc bindings of
 * src/kvm/libc.ts), so that another process — possibly unprivileged, mapping read-only — can read
 * what the owner writes.
 *
 * The owner creates the file exclusively with mode 0644 (so others can read but never write or
 * truncate it), sizes it with ftruncate (zero-filled) and unlinks it on close. Readers open it
 * O_RDONLY and map it PROT_READ: a reader cannot disturb the producer.
 *
 * `koffi.view` gives a non-shared ArrayBuffer over the mapping: Atomics.load/store work on it,
 * Atomics.wait does not. The ArrayBuffer cannot be detached, so close() first makes every holder
 * drop its views (Region.onClose) and only then unmaps.
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE } from '../kvm/libc.ts';
import { type Region, ViewRegion } from './region.ts';

export const SHM_DIR = '/dev/shm';
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;
/** Refuse to map absurd sizes read from a file we do not own. */
const MAX_REGION = 1 << 30;

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
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
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
 * Maps an existing /dev/shm/<name>: read-only (O_RDONLY, PROT_READ) unless `writable` is set.
 * The length is the file's size. The file is not removed on close.
 */
export function openShmRegion(name: string, options: { writable?: boolean } = {}): Region {
  const writable = options.writable ?? false;
  const fd = openSync(shmPath(name), writable ? constants.O_RDWR : constants.O_RDONLY);
  let length: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${shmPath(name)} is not a regular file`);
    length = st.size;
    if (length <= 0) throw new UsageError(`${shmPath(name)} is empty (not yet sized by its producer?)`);
    if (length > MAX_REGION) throw new UsageError(`${shmPath(name)} is larger than ${MAX_REGION} bytes`);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return mapFd(fd, name, length, writable, false);
}
