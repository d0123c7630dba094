/**
 * What a read command points at: a file (a capture, a saved table) or a live region under
 * /dev/shm named with --shm. Opening reads the first word to tell the two formats apart.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/index.ts';
import { shmPath } from '../shm/shm-file.ts';

export type StatsFormat = 'kvm-stats' | 'stats-table' | 'domain-directory';

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

function magicOf(abi: { abi: string; constants: { name: string; value: string }[] }, name: string): number {
  const magic = abi.constants.find((c) => c.name === name);
  if (!magic) throw new Error(`${abi.abi} schema lost its ${name} constant`);
  return Number(magic.value);
}

const statsTableMagic = magicOf(shippedStatsTableAbi(), 'DOM_MAGIC');
const directoryMagic = magicOf(shippedDomainDirectoryAbi(), 'MAGIC');

/**
 * hvkit's regions start with their magic; the KVM format has none, so anything else is tried as
 * KVM stats.
 */
export function detectFormat(firstWord: number): StatsFormat {
  if (firstWord === statsTableMagic) return 'stats-table';
  if (firstWord === directoryMagic) return 'domain-directory';
  return 'kvm-stats';
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
