/**
 * ABI names, and the one check every `hvkit abi` command makes before a name becomes a path.
 *
 * An ABI name is kebab-case and doubles as its directory under schemas/. Every path built from
 * a name (schema.ts, revisions/, lock files) goes through abiDirectory, so a name like `../../x`
 * can never make a command import, read or write anything outside the schemas directory.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { UsageError } from '../errors.ts';

/** Kebab-case: a lowercase letter, then lowercase letters, digits and single hyphens. */
export const ABI_NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const MAX_ABI_NAME_LENGTH = 64;

export function isAbiName(name: string): boolean {
  return typeof name === 'string' && name.length <= MAX_ABI_NAME_LENGTH && ABI_NAME_PATTERN.test(name);
}

/** True when `path` is `root` itself or below it (both absolute and normalised). */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** realpath, or undefined when the path does not exist (yet). */
function realpathIfPresent(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The directory of ABI `name` under `root`, after checking that the name is a plain ABI name
 * and that the directory (following symbolic links when it exists) stays inside `root`.
 * Throws UsageError otherwise. Existence is not checked: callers say "unknown ABI" themselves.
 */
export function abiDirectory(name: string, root: string): string {
  if (!isAbiName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, MAX_ABI_NAME_LENGTH + 1)) : String(name);
    throw new UsageError(
      `${shown} is not an ABI name: ABI names are kebab-case directory names in the schemas directory (at most ${MAX_ABI_NAME_LENGTH} characters)`,
    );
  }
  const base = resolve(root);
  const dir = join(base, name);
  const realBase = realpathIfPresent(base) ?? base;
  const realDir = realpathIfPresent(dir);
  if (!inside(base, dir) || (realDir !== undefined && !inside(realBase, realDir))) {
    throw new UsageError(`ABI ${name}: its directory is not inside the schemas directory`);
  }
  return dir;
}
