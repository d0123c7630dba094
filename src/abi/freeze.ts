/**
 * Freezing: writing the current schema as the next frozen revision.
 *
 * A revision is frozen only when it is compatible with every frozen revision
 * and differs from the latest one. The lock file is written to a temporary
 * file in the same directory and renamed into place, so a crash never leaves
 * a half-written revision behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { environmentError, errorCode } from '../errors.ts';
import { type CompatViolation, checkCompat, formatCompatViolation } from './compat.ts';
import { parseLock, serializeLock } from './lockfile.ts';
import { DEFAULT_SCHEMAS_ROOT, loadAbi, lockPath } from './registry.ts';

export type FreezeRefusal = 'incompatible' | 'unchanged' | 'exists';

/** Thrown when freezing is refused; nothing has been written. */
export class FreezeRefused extends Error {
  override readonly name = 'FreezeRefused';
  constructor(
    readonly abi: string,
    readonly reason: FreezeRefusal,
    message: string,
    /** For `incompatible`: the errors that block the freeze. */
    readonly violations: CompatViolation[] = [],
  ) {
    super(`${abi}: freeze refused (${reason}): ${message}`);
  }
}

export interface FreezeResult {
  abi: string;
  revision: number;
  /** The lock file written. */
  path: string;
  /** Accepted changes worth knowing about (renames). */
  warnings: CompatViolation[];
}

export async function freezeAbi(name: string, root = DEFAULT_SCHEMAS_ROOT): Promise<FreezeResult> {
  const { current, revisions } = await loadAbi(name, root);
  const report = checkCompat(current, revisions);
  const errors = report.violations.filter((v) => v.severity === 'error');
  if (errors.length > 0) {
    const lines = errors.map(formatCompatViolation).join('\n');
    throw new FreezeRefused(name, 'incompatible', `${errors.length} incompatible change(s):\n${lines}`, errors);
  }
  const latest = revisions.at(-1);
  const revision = (latest?.revision ?? 0) + 1;
  const next = { ...current, revision };
  if (latest && serializeLock({ ...latest, revision }) === serializeLock(next)) {
    throw new FreezeRefused(name, 'unchanged', `identical to revision ${latest.revision}; nothing new to freeze`);
  }
  const text = serializeLock(next);
  const path = lockPath(name, revision, root);
  parseLock(text, basename(path)); // never write a lock that could not be read back
  await writeAtomically(path, text, name);
  return { abi: name, revision, path, warnings: report.violations.filter((v) => v.severity === 'warning') };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw environmentError(path, e);
  }
}

/** Temp file in the same directory, flushed, then renamed over the final name. */
async function writeAtomically(path: string, text: string, abi: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  if (await exists(path)) throw new FreezeRefused(abi, 'exists', `${basename(path)} already exists`);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}
