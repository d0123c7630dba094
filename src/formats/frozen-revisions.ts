/**
 * The frozen revisions a format ships with: schemas/<abi>/revisions/rev-<n>.lock.json, read and
 * checked once per process. One loader for every format, so a missing revision, an unreadable
 * file and a corrupt lock are told apart the same way everywhere.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readLock } from '../abi/lock-read.ts';
import type { ResolvedAbi } from '../abi/resolved.ts';
import { InternalError, UsageError } from '../errors.ts';

const SCHEMAS = new URL('../../schemas/', import.meta.url);
const LOCK_NAME = /^rev-([1-9]\d*)\.lock\.json$/;

/** Asked for a revision number no lock file has. */
export class NoSuchRevisionError extends UsageError {
  override readonly name = 'NoSuchRevisionError';
  constructor(
    readonly abi: string,
    readonly revision: number,
  ) {
    super(`${abi} has no frozen revision ${revision}`);
  }
}

const cache = new Map<string, ResolvedAbi>();

function revisionsDir(abi: string): URL {
  return new URL(`${abi}/revisions/`, SCHEMAS);
}

const numbers = new Map<string, number[]>();

/**
 * The numbers of every frozen revision of `abi`, ascending: listed once per process (the shipped
 * revisions do not change under a running hvkit; `hvkit abi freeze` is another process).
 */
export function frozenRevisionNumbers(abi: string): number[] {
  let list = numbers.get(abi);
  if (!list) {
    list = readdirSync(revisionsDir(abi))
      .map((f) => LOCK_NAME.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    numbers.set(abi, list);
  }
  return [...list];
}

/** Frozen revision `n` of `abi`; NoSuchRevisionError when there is none, FormatError when its lock is corrupt. */
export function frozenRevision(abi: string, n: number): ResolvedAbi {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${abi} revisions are numbered from 1, not ${n}`);
  const key = `${abi}/${n}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!frozenRevisionNumbers(abi).includes(n)) throw new NoSuchRevisionError(abi, n);
  const file = `rev-${n}.lock.json`;
  // The same careful read as `hvkit abi` (regular file only, size-bounded).
  const resolved = readLock(fileURLToPath(new URL(file, revisionsDir(abi))), `${abi} ${file}`);
  if (resolved.abi !== abi || resolved.revision !== n) {
    throw new InternalError(`schemas/${abi}/revisions/${file} holds ${resolved.abi} revision ${resolved.revision}`);
  }
  cache.set(key, resolved);
  return resolved;
}

/** The newest frozen revision: what hvkit's own producers, host and tools are built from. */
export function newestFrozenRevision(abi: string): ResolvedAbi {
  const newest = frozenRevisionNumbers(abi).at(-1);
  if (newest === undefined) throw new InternalError(`${abi} has no frozen revision`);
  return frozenRevision(abi, newest);
}
