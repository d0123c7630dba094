/**
 * `hvkit abi check` as a library: every ABI (or the named ones) against all of
 * its frozen revisions, as printable lines and counts.
 */
import { FormatError, UsageError } from '../errors.ts';
import { abiDirectory } from './abi-name.ts';
import { cCompiler, checkCInterop } from './c-interop.ts';
import { checkCompat, formatCompatViolation } from './compat.ts';
import { sameApartFromRevision } from './gen-common.ts';
import { DEFAULT_SCHEMAS_ROOT, listAbis, loadAbi } from './registry.ts';
import type { ResolvedAbi } from './resolved.ts';

export interface AbiCheckResult {
  lines: string[];
  errors: number;
  warnings: number;
}

/**
 * Checks the named ABIs (all of them when `names` is empty or absent). Unknown names throw
 * UsageError; an ABI that cannot be loaded (bad schema, bad or missing lock file) counts as
 * one error and is reported as a line.
 */
export interface AbiCheckOptions {
  /** Also compile C consumers of every revision against data of the others (c-interop.ts). */
  compile?: boolean;
}

export async function runAbiCheck(
  names?: string[],
  root = DEFAULT_SCHEMAS_ROOT,
  opts: AbiCheckOptions = {},
): Promise<AbiCheckResult> {
  const known = await listAbis(root);
  const selected = names && names.length > 0 ? names : known;
  for (const n of selected) abiDirectory(n, root); // the name check every abi command makes
  for (const n of selected) {
    if (!known.includes(n)) throw new UsageError(`unknown ABI ${n} (known: ${known.join(', ') || 'none'})`);
  }
  const result: AbiCheckResult = { lines: [], errors: 0, warnings: 0 };
  // Found before any work, so a missing compiler is one clear environment error.
  const cc = opts.compile ? cCompiler() : undefined;
  for (const name of selected) {
    let loaded: Awaited<ReturnType<typeof loadAbi>>;
    try {
      loaded = await loadAbi(name, root);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      result.lines.push(`${name}: cannot load: ${e.message}`);
      result.errors++;
      continue;
    }
    const report = checkCompat(loaded.current, loaded.revisions);
    result.lines.push(...report.violations.map(formatCompatViolation));
    result.errors += report.errors;
    result.warnings += report.warnings;
    const compared = report.compared.length === 0 ? 'no frozen revision' : `revisions ${report.compared.join(', ')}`;
    const verdict = report.errors === 0 ? 'compatible with' : `${report.errors} error(s) against`;
    result.lines.push(`${name}: major ${loaded.current.major}: ${verdict} ${compared}`);
    if (cc === undefined) continue;
    const participants = interopParticipants(loaded.current, loaded.revisions, report.errors === 0);
    if (participants.length === 0) continue;
    const interop = checkCInterop(participants, cc);
    result.lines.push(...interop.notes, ...interop.lines);
    result.errors += interop.errors;
    const names = participants.map((r) => (r.revision === 0 ? 'current' : String(r.revision))).join(', ');
    const pairs = `${interop.pairs} (consumer, producer) pair(s)`;
    result.lines.push(
      interop.errors === 0
        ? `${name}: C: revisions ${names} compile; each consumer reads each producer's data as promised: ${pairs}`
        : `${name}: C: ${interop.errors} error(s) across revisions ${names}: ${pairs} read`,
    );
  }
  return result;
}

/**
 * The revisions whose C consumers are compiled: the frozen ones of the current major, and the
 * working schema when it is compatible and differs from the latest frozen one.
 */
function interopParticipants(current: ResolvedAbi, frozen: ResolvedAbi[], compatible: boolean): ResolvedAbi[] {
  const same = frozen.filter((r) => r.major === current.major);
  const latest = same.at(-1);
  if (compatible && (latest === undefined || !sameApartFromRevision(current, latest))) return [...same, current];
  return same;
}
