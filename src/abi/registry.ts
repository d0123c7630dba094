/**
 * The ABI registry: the ABIs under schemas/, their current schema and their
 * frozen revisions.
 *
 * schemas/<abi>/schema.ts default-exports the current AbiSpec;
 * schemas/<abi>/revisions/rev-<N>.lock.json holds frozen revision N.
 * Directories whose name is not an ABI name (`_fixtures`, `.hidden`) are not ABIs. Every path
 * built from an ABI name goes through abiDirectory (abi-name.ts), which refuses names that are
 * not plain directory names under the schemas directory before anything is imported or read.
 */

import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { environmentError, FormatError, UsageError } from '../errors.ts';
import { abiDirectory, isAbiName } from './abi-name.ts';
import { resolveAbi } from './layout.ts';
import { readLock } from './lock-read.ts';
import { MIN_MAJOR, type ResolvedAbi } from './resolved.ts';
import type { AbiSpec } from './schema.ts';

/** The repository's schemas/ directory. */
export const DEFAULT_SCHEMAS_ROOT = resolve(fileURLToPath(new URL('../../schemas', import.meta.url)));

const LOCK_NAME = /^rev-([1-9][0-9]{0,5})\.lock\.json$/;
/** Bound on the number of frozen revisions of one ABI. */
const MAX_REVISIONS = 100000;

export interface LoadedAbi {
  name: string;
  /** The working schema, resolved as revision 0. */
  current: ResolvedAbi;
  /** Frozen revisions 1..N, in order. */
  revisions: ResolvedAbi[];
}

function registryError(abi: string, field: string, rule: string, message: string, value?: string): FormatError {
  return new FormatError(`abi registry ${abi}`, field, rule, message, value);
}

export function schemaPath(name: string, root = DEFAULT_SCHEMAS_ROOT): string {
  return join(abiDirectory(name, root), 'schema.ts');
}

export function revisionsDir(name: string, root = DEFAULT_SCHEMAS_ROOT): string {
  return join(abiDirectory(name, root), 'revisions');
}

export function lockPath(name: string, revision: number, root = DEFAULT_SCHEMAS_ROOT): string {
  return join(revisionsDir(name, root), `rev-${revision}.lock.json`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw environmentError(path, e);
  }
}

/** ABI names: directories of `root` named like an ABI (so not `_fixtures`) holding a schema.ts; sorted. */
export async function listAbis(root = DEFAULT_SCHEMAS_ROOT): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new UsageError(`cannot read the schemas directory: ${(e as Error).message}`);
  }
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !isAbiName(e.name)) continue;
    if (await isFile(schemaPath(e.name, root))) names.push(e.name);
  }
  return names.sort();
}

/**
 * Loads the current spec by importing schemas/<abi>/schema.ts. Each call evaluates the file
 * afresh (tsx's scoped import), so a schema edited while the process runs is seen as edited.
 */
export async function loadSpec(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<AbiSpec> {
  const path = schemaPath(name, root);
  if (!(await isFile(path))) throw new UsageError(`unknown ABI ${name}: no ${name}/schema.ts in the schemas directory`);
  let mod: { default?: unknown };
  try {
    mod = await tsImport(pathToFileURL(path).href, import.meta.url);
  } catch (e) {
    throw registryError(name, 'schema.ts', 'schema-import', `importing the schema failed: ${importFailure(e)}`);
  }
  // Outside an ESM package the loader wraps the module once more.
  let spec = mod.default as { default?: unknown; name?: unknown } | undefined;
  if (spec && spec.name === undefined && spec.default !== undefined) spec = spec.default as typeof spec;
  if (typeof spec !== 'object' || spec === null || !Array.isArray((spec as { structs?: unknown }).structs)) {
    throw registryError(name, 'schema.ts', 'schema-export', 'the default export must be an AbiSpec');
  }
  if (spec.name !== name) {
    throw registryError(name, 'schema.ts', 'abi-name', `the schema calls itself ${String(spec.name)}`);
  }
  return spec as AbiSpec;
}

/**
 * Why a schema did not import, in one line. A schema of another project imports the schema
 * language as 'hvkit/abi'; when that cannot be found, say how to make it resolve.
 */
function importFailure(e: unknown): string {
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /'hvkit(\/abi)?'/.test(first)) {
    return `${first} (install hvkit in the project: npm install --save-dev hvkit)`;
  }
  return first;
}

/** Loads and resolves the current schema (revision 0); schema mistakes come back as FormatError. */
export async function loadCurrent(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<ResolvedAbi> {
  return resolveCurrent(name, await loadSpec(name, root));
}

function resolveCurrent(name: string, spec: AbiSpec): ResolvedAbi {
  try {
    return resolveAbi(spec, 0);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    // A spec that is not even the right shape (a missing list …) fails inside the engine.
    throw registryError(name, 'schema.ts', 'invalid-schema', (e as Error).message);
  }
}

/** Revision numbers of the lock files present, checked to be exactly 1..N. */
export async function listRevisionNumbers(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(revisionsDir(name, root));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw registryError(name, 'revisions', 'unreadable', (e as Error).message);
  }
  const numbers: number[] = [];
  for (const entry of entries) {
    if (entry.startsWith('.')) continue; // temporary files of an interrupted freeze
    const m = LOCK_NAME.exec(entry);
    if (m) numbers.push(Number(m[1]));
    else if (entry.startsWith('rev-')) {
      throw registryError(name, `revisions/${entry}`, 'lock-name', 'lock files are named rev-<N>.lock.json');
    }
  }
  numbers.sort((a, b) => a - b);
  if (numbers.length > MAX_REVISIONS) throw registryError(name, 'revisions', 'too-many', 'too many revisions');
  numbers.forEach((n, i) => {
    if (n !== i + 1) {
      throw registryError(name, `revisions/rev-${n}.lock.json`, 'revision-gap', `revision ${i + 1} is missing`);
    }
  });
  return numbers;
}

/** All frozen revisions in order; each lock must agree with its file name. */
export async function loadRevisions(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<ResolvedAbi[]> {
  const out: ResolvedAbi[] = [];
  for (const n of await listRevisionNumbers(name, root)) {
    const where = `${name}/revisions/rev-${n}.lock.json`;
    const lock = readLock(lockPath(name, n, root), where);
    if (lock.abi !== name) throw registryError(name, `${where}: abi`, 'lock-abi-mismatch', `says ${lock.abi}`);
    if (lock.revision !== n) {
      throw registryError(name, `${where}: revision`, 'lock-revision-mismatch', `says revision ${lock.revision}`);
    }
    out.push(lock);
  }
  return out;
}

export async function loadAbi(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<LoadedAbi> {
  const spec = await loadSpec(name, root);
  const current = resolveCurrent(name, spec);
  const revisions = await loadRevisions(name, root);
  checkLockMajors(name, current.major, spec.majorSince ?? 1, revisions);
  return { name, current, revisions };
}

/**
 * Every lock's major against what the schema declares: revisions from `since` (the schema's
 * majorSince) on carry the current major; earlier ones carry older majors, never decreasing.
 * The checker compares only revisions of the current major, so without this a lock edited to an
 * older major would be skipped instead of compared.
 */
export function checkLockMajors(name: string, major: number, since: number, revisions: ResolvedAbi[]): void {
  const next = revisions.length + 1;
  if (since > next) {
    throw registryError(
      name,
      'schema.ts: majorSince',
      'major-since-range',
      `revision ${since} is past the next revision to freeze (${next})`,
      String(since),
    );
  }
  let previous = MIN_MAJOR;
  for (const lock of revisions) {
    const where = `${name}/revisions/rev-${lock.revision}.lock.json: major`;
    const fromSince = lock.revision >= since;
    if (fromSince ? lock.major !== major : lock.major >= major || lock.major < previous) {
      const declared = fromSince
        ? `the schema declares major ${major} from revision ${since}`
        : `revisions before ${since} carry majors below ${major}, never decreasing`;
      throw registryError(
        name,
        where,
        'lock-major-mismatch',
        `says major ${lock.major}; ${declared}`,
        String(lock.major),
      );
    }
    previous = lock.major;
  }
}
