/**
 * The stats-table ABI as the codec uses it: the working schema, or any frozen revision loaded
 * from its lock file (a producer or consumer "built from revision N").
 */
import spec from '../../../schemas/stats-table/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { frozenRevision, frozenRevisionNumbers, newestFrozenRevision } from '../frozen-revisions.ts';

/** The ABI of the working schema (revision 0: not frozen). */
export function currentStatsTableAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The numbers of every frozen revision (schemas/stats-table/revisions/rev-<n>.lock.json), ascending. */
export function frozenStatsTableRevisions(): number[] {
  return frozenRevisionNumbers('stats-table');
}

/** The frozen revision `n` (schemas/stats-table/revisions/rev-<n>.lock.json). */
export function statsTableRevision(n: number): ResolvedAbi {
  return frozenRevision('stats-table', n);
}

/**
 * The newest frozen revision: what hvkit's own producers and tools are built from. The working
 * schema is only for developing the next revision (its revision number is 0 until frozen).
 */
export function shippedStatsTableAbi(): ResolvedAbi {
  return newestFrozenRevision('stats-table');
}
