import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

/** Runs `hvkit ARGS…` as a user would (no colour); asserts that stderr holds no stack trace. */
export function hvkit(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hvkit.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace on stderr: ${r.stderr}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * Runs `hvkit ARGS…` without an output limit (spawnSync's buffer is 1 MiB), resolving with its
 * exit code and output, or rejecting when it still runs after `ms` (a hang deadline).
 */
export function hvkitWithin(ms: number, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return hvkitWithinEnv(ms, {}, ...args);
}

/** hvkitWithin with extra environment variables for the child (e.g. NODE_OPTIONS to cap its heap). */
export function hvkitWithinEnv(
  ms: number,
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/hvkit.mjs', ...args], {
      env: { ...process.env, ...env, NO_COLOR: '1' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hvkit ${args.join(' ')} still running after ${ms} ms`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace on stderr: ${stderr}`);
      resolve({ code, out: Buffer.concat(out).toString(), err: stderr });
    });
  });
}
