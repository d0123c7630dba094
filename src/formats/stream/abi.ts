/**
 * The stream ABI as the codec uses it: each frozen revision from its lock file (a writer or reader
 * "built from revision N"), the numbers the codec needs from it, and which stream versions a
 * reader of a given revision accepts (its own and the previous one).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseLock } from '../../abi/lockfile.ts';
import { findConstant, findStruct, type ResolvedAbi, type ResolvedStruct } from '../../abi/resolved.ts';
import { UsageError } from '../../errors.ts';

const REVISIONS = new URL('../../../schemas/stream/revisions/', import.meta.url);
const cache = new Map<number, ResolvedAbi>();

/** The frozen revision `n` of the stream ABI. */
export function streamRevision(n: number): ResolvedAbi {
  const hit = cache.get(n);
  if (hit) return hit;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`stream revisions are numbered from 1, not ${n}`);
  let text: string;
  try {
    text = readFileSync(new URL(`rev-${n}.lock.json`, REVISIONS), 'utf8');
  } catch {
    throw new UsageError(`stream has no frozen revision ${n}`);
  }
  const abi = parseLock(text, `stream rev-${n}.lock.json`);
  if (abi.abi !== 'stream' || abi.revision !== n)
    throw new UsageError(`rev-${n}.lock.json is not stream revision ${n}`);
  cache.set(n, abi);
  return abi;
}

/** Numbers of every frozen revision, ascending. */
export function frozenStreamRevisions(): number[] {
  return readdirSync(REVISIONS)
    .map((f) => /^rev-(\d+)\.lock\.json$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The newest frozen revision: the version hvkit writes. */
export function newestStreamVersion(): number {
  const all = frozenStreamRevisions();
  if (all.length === 0) throw new UsageError('stream has no frozen revision');
  return all[all.length - 1]!;
}

/** Versions a reader built from revision `reader` accepts: its own and the previous one. */
export function readableVersions(reader: number): number[] {
  return reader > 1 ? [reader, reader - 1] : [reader];
}

export function streamStruct(abi: ResolvedAbi, name: string): ResolvedStruct {
  const s = findStruct(abi, name);
  if (!s) throw new UsageError(`stream revision ${abi.revision} has no struct ${name}`);
  return s;
}

export function streamConstant(abi: ResolvedAbi, name: string): bigint {
  const c = findConstant(abi, name);
  if (!c) throw new UsageError(`stream revision ${abi.revision} has no constant ${name}`);
  return BigInt(c.value);
}

/** Record types a stream of revision `abi` may carry (retired ones excluded), by type. */
export function liveRecordTypes(abi: ResolvedAbi): Map<number, string> {
  return new Map(abi.records.filter((r) => !r.retired).map((r) => [r.type, r.name]));
}

/** Enum value ↔ name of an enum of the ABI. */
export function enumValues(abi: ResolvedAbi, name: string): Map<string, number> {
  const e = abi.enums.find((x) => x.name === name);
  if (!e) throw new UsageError(`stream revision ${abi.revision} has no enum ${name}`);
  return new Map(e.values.filter((v) => !v.retired).map((v) => [v.name, v.value]));
}
