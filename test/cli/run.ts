import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Runs `hvkit ARGS…` as a user would (no colour); asserts that stderr holds no stack trace. */
export function hvkit(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hvkit.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace on stderr: ${r.stderr}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}
