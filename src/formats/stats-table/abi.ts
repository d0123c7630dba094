/**
 * The stats-table ABI as the codec uses it: the working schema, or any frozen revision loaded
 * from its lock file (a producer or consumer "built from revision N").
 */
import { readdirSync, readFileSync } from 'node:fs';
import spec from '../../../schemas/stats-table/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import { parseLock } from '../../abi/lockfile.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { UsageError } from '../../errors.ts';

const REVISIONS = new URL('../../../schemas/stats-table/revisions/', import.meta.url);

/** The ABI of the working schema (revision 0: not frozen). */
export function currentStatsTableAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The numbers of every frozen revision (schemas/stats-table/revisions/rev-<n>.lock.json), ascending. */
export function frozenStatsTableRevisions(): number[] {
  return readdirSync(REVISIONS)
    .map((f) => /^rev-([1-9]\d*)\.lock\.json$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The frozen revision `n`, from schemas/stats-table/revisions/rev-<n>.lock.json. */
export function statsTableRevision(n: number): ResolvedAbi {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`stats-table revisions are numbered from 1, not ${n}`);
  let text: string;
  try {
    text = readFileSync(new URL(`rev-${n}.lock.json`, REVISIONS), 'utf8');
  } catch {
    throw new UsageError(`stats-table has no frozen revision ${n}`);
  }
  const abi = parseLock(text, `stats-table rev-${n}.lock.json`);
  if (abi.abi !== 'stats-table' || abi.revision !== n) {
    throw new UsageError(`rev-${n}.lock.json is not stats-table revision ${n}`);
  }
  return abi;
}

/**
 * The newest frozen revision: what hvkit's own producers and tools are built from. The working
 * schema is only for developing the next revision (its revision number is 0 until frozen).
 */
export function shippedStatsTableAbi(): ResolvedAbi {
  const numbers = frozenStatsTableRevisions();
  const newest = numbers[numbers.length - 1];
  if (newest === undefined) throw new UsageError('stats-table has no frozen revision');
  return statsTableRevision(newest);
}
