/** The call-word ABI: the working schema and the frozen revisions (schemas/call-word). */
import spec from '../../../schemas/call-word/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { frozenRevision, frozenRevisionNumbers, newestFrozenRevision } from '../frozen-revisions.ts';

export function currentCallWordAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The frozen revision numbers, ascending. */
export function frozenCallWordRevisions(): number[] {
  return frozenRevisionNumbers('call-word');
}

/** The frozen revision `n` (schemas/call-word/revisions/rev-<n>.lock.json). */
export function callWordRevision(n: number): ResolvedAbi {
  return frozenRevision('call-word', n);
}

/** The newest frozen revision: what the host serves (core.abi_version answers its major and revision). */
export function shippedCallWordAbi(): ResolvedAbi {
  return newestFrozenRevision('call-word');
}
