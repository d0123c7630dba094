/**
 * What a read command points at: a file (a capture, a saved table) or a live region under
 * /dev/shm named with --shm. Opening reads the first word to tell the two formats apart.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/index.ts';
import { shmPath } from '../shm/shm-file.ts';

export type StatsFormat = 'kvm-stats' | 'stats-table';

export interface Target {
  /** What the user named, for messages. */
  label: string;
  path: string;
  /** Set for --shm: a live region that may be mapped (and sampled twice). */
  shmName?: string;
}

export function resolveTarget(file: string | undefined, shm: string | undefined): Target {
  if ((file === undefined) === (shm === undefined)) throw new UsageError('name exactly one of FILE or --shm NAME');
  if (shm !== undefined) return { label: `shm:${shm}`, path: shmPath(shm), shmName: shm };
  return { label: file as string, path: file as string };
}

export interface OpenTarget {
  fd: number;
  size: number;
  format: StatsFormat;
}

const statsTableMagic = (() => {
  const magic = shippedStatsTableAbi().constants.find((c) => c.name === 'DOM_MAGIC');
  if (!magic) throw new Error('stats-table schema lost its DOM_MAGIC constant');
  return Number(magic.value);
})();

/** The stats table starts with its magic; the KVM format has no magic, so anything else is tried as KVM stats. */
export function detectFormat(firstWord: number): StatsFormat {
  return firstWord === statsTableMagic ? 'stats-table' : 'kvm-stats';
}

/** Opens the target read-only and detects its format; the caller closes the fd. */
export function openTarget(target: Target): OpenTarget {
  let fd: number;
  try {
    fd = openSync(target.path, 'r');
  } catch (error) {
    throw new UsageError(`cannot open ${target.label}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${target.label} is not a regular file`);
    const head = Buffer.alloc(4);
    const got = readSync(fd, head, 0, 4, 0);
    const format = got === 4 ? detectFormat(head.readUInt32LE(0)) : 'kvm-stats';
    return { fd, size: st.size, format };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
