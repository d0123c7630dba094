/** Test helper: run this checkout's `hvkit` in another directory, as a user of another project would. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HVKIT_BIN = fileURLToPath(new URL('../../bin/hvkit.mjs', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function hvkitIn(cwd: string, ...args: string[]) {
  return hvkitInEnv(cwd, {}, ...args);
}

export function hvkitInEnv(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [HVKIT_BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env, NO_COLOR: '1' },
  });
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace on stderr: ${r.stderr}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}
