/**
 * The stream ABI as the codec uses it: each frozen revision from its lock file (a writer or reader
 * "built from revision N"), the numbers the codec needs from it, and which stream versions a
 * reader of a given revision accepts (its own and the previous one).
 */
import { findConstant, findStruct, type ResolvedAbi, type ResolvedStruct } from '../../abi/resolved.ts';
import { UsageError } from '../../errors.ts';
import { frozenRevision, frozenRevisionNumbers, newestFrozenRevision } from '../frozen-revisions.ts';

/** The frozen revision `n` of the stream ABI. */
export function streamRevision(n: number): ResolvedAbi {
  return frozenRevision('stream', n);
}

/** Numbers of every frozen revision, ascending. */
export function frozenStreamRevisions(): number[] {
  return frozenRevisionNumbers('stream');
}

/** The newest frozen revision: the version hvkit writes. */
export function newestStreamVersion(): number {
  return newestFrozenRevision('stream').revision;
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
