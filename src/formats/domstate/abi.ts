/**
 * The domain-directory ABI as the codec uses it: the working schema, or a frozen revision loaded
 * from its lock file (a producer or consumer "built from revision N").
 */
import spec from '../../../schemas/domain-directory/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { frozenRevision, newestFrozenRevision } from '../frozen-revisions.ts';

/** The ABI of the working schema (revision 0: not frozen). */
export function currentDomainDirectoryAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The frozen revision `n` (schemas/domain-directory/revisions/rev-<n>.lock.json). */
export function domainDirectoryRevision(n: number): ResolvedAbi {
  return frozenRevision('domain-directory', n);
}

/** The newest frozen revision: what hvkit's host and tools are built from. */
export function shippedDomainDirectoryAbi(): ResolvedAbi {
  return newestFrozenRevision('domain-directory');
}
