/**
 * `hvkit abi check` as a library: every ABI (or the named ones) against all of
 * its frozen revisions, as printable lines and counts.
 */
import { FormatError, UsageError } from '../errors.ts';
import { abiDirectory } from './abi-name.ts';
import { checkCompat, formatCompatViolation } from './compat.ts';
import { DEFAULT_SCHEMAS_ROOT, listAbis, loadAbi } from './registry.ts';

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
  _opts: AbiCheckOptions = {},
): Promise<AbiCheckResult> {
  const known = await listAbis(root);
  const selected = names && names.length > 0 ? names : known;
  for (const n of selected) abiDirectory(n, root); // the name check every abi command makes
  for (const n of selected) {
    if (!known.includes(n)) throw new UsageError(`unknown ABI ${n} (known: ${known.join(', ') || 'none'})`);
  }
  const result: AbiCheckResult = { lines: [], errors: 0, warnings: 0 };
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
  }
  return result;
}
