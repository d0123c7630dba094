/**
 * Shared by the control-socket CLI tests: `hvkit host` in a child process, `hvkit ctl` against it,
 * and a clean stop (socket and every region removed).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const ENTRY = ['--import', 'tsx', 'test/ctl/hvkit-entry.ts'];

export interface Started {
  child: ChildProcess;
  pid: number;
  socket: string;
  backend: string;
  exited: Promise<number | null>;
}

export async function startHost(env: NodeJS.ProcessEnv, args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [...ENTRY, 'host', '--json', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hvkit host exited with ${code} before serving`)));
  });
  const start = JSON.parse(first) as { pid: number; socket: string; backend: string };
  return { child, exited, ...start };
}

export function ctl(host: number, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...ENTRY, 'ctl', '--host', String(host), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export function json<T>(r: { code: number | null; out: string; err: string }): T {
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

export async function stopHost(h: Started): Promise<void> {
  h.child.kill('SIGTERM');
  assert.equal(await h.exited, 0);
  assert.equal(existsSync(h.socket), false, 'socket removed');
  const left = readdirSync('/dev/shm').filter((n) => n.startsWith(`hvkit.${h.pid}.`));
  assert.deepEqual(left, [], 'every region of the host removed');
}
