/**
 * Where a project's ABI schemas live, so `hvkit abi` works for any project, not only this one.
 *
 * Resolved in this order:
 *   1. `--schemas DIR` (relative to the working directory);
 *   2. the nearest `hvkit.abi.json` found walking up from the working directory: a JSON object
 *      `{ "schemas": "DIR" }`, DIR relative to the file (the file's directory is the project);
 *   3. this repository's own schemas/, when the working directory is inside the repository.
 * Anything else is a usage error that says how to fix it.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { environmentError, errorCode, UsageError } from '../errors.ts';
import { DEFAULT_SCHEMAS_ROOT } from './registry.ts';

export const CONFIG_FILE = 'hvkit.abi.json';
/** A config file larger than this is not a config file. */
const MAX_CONFIG_BYTES = 64 * 1024;

export type SchemasSource = 'flag' | 'config' | 'repository';

export interface SchemasLocation {
  /** Absolute path of the schemas directory. */
  root: string;
  /** The project directory: paths in messages are shown relative to it. */
  project: string;
  source: SchemasSource;
  /** The config file, when source is 'config'. */
  config?: string;
}

/** This repository's root (the directory holding schemas/ and package.json). */
export const REPOSITORY_ROOT = dirname(DEFAULT_SCHEMAS_ROOT);

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return false;
    throw environmentError(path, e);
  }
}

/** The nearest hvkit.abi.json at or above `cwd`, or undefined. */
export function findConfig(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    if (isRegularFile(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Reads a config file; anything but `{ "schemas": "<non-empty string>" }` is a usage error naming it. */
export function readConfig(path: string): { schemas: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw environmentError(path, e);
  }
  if (text.length > MAX_CONFIG_BYTES) throw new UsageError(`${path}: larger than ${MAX_CONFIG_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new UsageError(`${path}: not JSON (${e.message})`);
  }
  const schemas = (value as { schemas?: unknown } | null)?.schemas;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof schemas !== 'string') {
    throw new UsageError(`${path}: expected an object { "schemas": "DIR" }`);
  }
  if (schemas === '' || schemas.includes('\0')) throw new UsageError(`${path}: "schemas" must name a directory`);
  return { schemas };
}

export interface LocateOptions {
  /** The --schemas option, when given. */
  flag?: string;
  cwd?: string;
}

/** The schemas directory and project for a command, or undefined when nothing says where they are. */
export function findSchemas(opts: LocateOptions = {}): SchemasLocation | undefined {
  const cwd = resolve(opts.cwd ?? process.cwd());
  if (opts.flag !== undefined) {
    if (opts.flag === '') throw new UsageError('--schemas: expected a directory');
    return { root: resolve(cwd, opts.flag), project: cwd, source: 'flag' };
  }
  const config = findConfig(cwd);
  if (config !== undefined) {
    const project = dirname(config);
    return { root: resolve(project, readConfig(config).schemas), project, source: 'config', config };
  }
  if (isInside(REPOSITORY_ROOT, cwd)) {
    return { root: DEFAULT_SCHEMAS_ROOT, project: REPOSITORY_ROOT, source: 'repository' };
  }
  return undefined;
}

/** findSchemas, or a usage error saying how to tell hvkit where the schemas are. */
export function locateSchemas(opts: LocateOptions = {}): SchemasLocation {
  const found = findSchemas(opts);
  if (found) return found;
  throw new UsageError(
    `no schemas directory: pass --schemas DIR, or create ${CONFIG_FILE} ({ "schemas": "DIR" }) in the project root (hvkit abi init NAME does)`,
  );
}

/** A path as shown to the user: relative to the project when it is inside it. */
export function shownPath(location: SchemasLocation, path: string): string {
  return isInside(location.project, path) ? relative(location.project, path) || '.' : path;
}
