/**
 * The domain-directory ABI as the codec uses it: the working schema, or a frozen revision loaded
 * from its lock file (a producer or consumer "built from revision N").
 */
import { readdirSync, readFileSync } from 'node:fs';
import spec from '../../../schemas/domain-directory/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import { parseLock } from '../../abi/lockfile.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { UsageError } from '../../errors.ts';

const REVISIONS = new URL('../../../schemas/domain-directory/revisions/', import.meta.url);

/** The ABI of the working schema (revision 0: not frozen). */
export function currentDomainDirectoryAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The frozen revision `n`, from schemas/domain-directory/revisions/rev-<n>.lock.json. */
export function domainDirectoryRevision(n: number): ResolvedAbi {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`domain-directory revisions are numbered from 1, not ${n}`);
  let text: string;
  try {
    text = readFileSync(new URL(`rev-${n}.lock.json`, REVISIONS), 'utf8');
  } catch {
    throw new UsageError(`domain-directory has no frozen revision ${n}`);
  }
  const abi = parseLock(text, `domain-directory rev-${n}.lock.json`);
  if (abi.abi !== 'domain-directory' || abi.revision !== n) {
    throw new UsageError(`rev-${n}.lock.json is not domain-directory revision ${n}`);
  }
  return abi;
}

/** The newest frozen revision: what hvkit's host and tools are built from. */
export function shippedDomainDirectoryAbi(): ResolvedAbi {
  const numbers = readdirSync(REVISIONS)
    .map((f) => /^rev-(\d+)\.lock\.json$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  if (numbers.length === 0) throw new UsageError('domain-directory has no frozen revision');
  return domainDirectoryRevision(Math.max(...numbers));
}
