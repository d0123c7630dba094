/** The call-word ABI: the working schema and the frozen revisions (schemas/call-word). */
import { readdirSync, readFileSync } from 'node:fs';
import spec from '../../../schemas/call-word/schema.ts';
import { resolveAbi } from '../../abi/layout.ts';
import { parseLock } from '../../abi/lockfile.ts';
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { UsageError } from '../../errors.ts';

const REVISIONS = new URL('../../../schemas/call-word/revisions/', import.meta.url);

export function currentCallWordAbi(): ResolvedAbi {
  return resolveAbi(spec);
}

/** The frozen revision numbers, ascending. */
export function frozenCallWordRevisions(): number[] {
  return readdirSync(REVISIONS)
    .map((f) => /^rev-([1-9]\d*)\.lock\.json$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function callWordRevision(n: number): ResolvedAbi {
  let text: string;
  try {
    text = readFileSync(new URL(`rev-${n}.lock.json`, REVISIONS), 'utf8');
  } catch {
    throw new UsageError(`call-word has no frozen revision ${n}`);
  }
  const abi = parseLock(text, `call-word rev-${n}.lock.json`);
  if (abi.abi !== 'call-word' || abi.revision !== n)
    throw new UsageError(`rev-${n}.lock.json is not call-word revision ${n}`);
  return abi;
}

/** The newest frozen revision: what the host serves (core.abi_version answers its major and revision). */
export function shippedCallWordAbi(): ResolvedAbi {
  const newest = frozenCallWordRevisions().at(-1);
  if (newest === undefined) throw new UsageError('call-word has no frozen revision');
  return callWordRevision(newest);
}
