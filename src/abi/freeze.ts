/**
 * Freezing: writing the current schema as the next frozen revision.
 *
 * A revision is frozen only when it is compatible with every frozen revision
 * and differs from the latest one. The lock file is written through
 * writeFileAtomically (a temporary file linked into place, never over an
 * existing lock), so a crash never leaves a half-written revision behind.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type ErrorKind, HvkitError } from '../errors.ts';
import { OutputRefusedError, writeFileAtomically } from '../os/replace-file.ts';
import { type CompatViolation, checkCompat, formatCompatViolation } from './compat.ts';
import { parseLock, serializeLock } from './lockfile.ts';
import { DEFAULT_SCHEMAS_ROOT, loadAbi, lockPath } from './registry.ts';

export type FreezeRefusal = 'incompatible' | 'unchanged' | 'exists';

/** Thrown when freezing is refused; nothing has been written. */
export class FreezeRefused extends HvkitError {
  override readonly name = 'FreezeRefused';
  readonly kind: ErrorKind;
  constructor(
    readonly abi: string,
    readonly reason: FreezeRefusal,
    message: string,
    /** For `incompatible`: the errors that block the freeze. */
    readonly violations: CompatViolation[] = [],
  ) {
    super(`${abi}: freeze refused (${reason}): ${message}`);
    // A lock already there is the environment's business; a schema that cannot be frozen, a refusal.
    this.kind = reason === 'exists' ? 'environment' : 'refused';
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
  await writeLock(path, text, name);
  return { abi: name, revision, path, warnings: report.violations.filter((v) => v.severity === 'warning') };
}

/** Through the one file writer (src/os/replace-file.ts): never over an existing lock, never half-written. */
async function writeLock(path: string, text: string, abi: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  try {
    writeFileAtomically(path, [Buffer.from(text, 'utf8')], { mode: 0o644 });
  } catch (e) {
    if (e instanceof OutputRefusedError && e.rule === 'exists') {
      throw new FreezeRefused(abi, 'exists', `${basename(path)} already exists`);
    }
    throw e;
  }
}
