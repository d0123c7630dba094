/**
 * `hvkit host` starts all or nothing: a malformed --listen (or another bad option) is a one-line
 * usage error before anything is created; a listener that cannot bind (address in use) makes the
 * host exit promptly with one line; either way no socket, region or /dev/shm file of the process
 * is left behind. And a --max-guest-memory host refuses bigger guests from `ctl create`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { hangDeadline } from '../support/slowdown.ts';
import { ctl, startHost, stopHost } from './host-process.ts';

const ENTRY = ['--import', 'tsx', 'test/ctl/hvkit-entry.ts'];

/** Runs `hvkit host ARGS` and waits for it to exit (killed at the hang deadline: a hang fails). */
function runHost(args: string[]): Promise<{ code: number | null; err: string; pid: number; hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ENTRY, 'host', ...args], {
      env: { ...process.env, HVKIT_BACKEND: 'sim' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    let hung = false;
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGTERM');
    }, hangDeadline(30_000));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err, pid: child.pid!, hung });
    });
  });
}

function leftBehind(pid: number): string[] {
  return readdirSync('/dev/shm').filter((n) => n.startsWith(`hvkit.${pid}.`));
}

function assertRefused(r: { code: number | null; err: string; pid: number; hung: boolean }, pattern: RegExp): void {
  assert.equal(r.hung, false, 'the host exited by itself');
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line: ${r.err}`);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  assert.deepEqual(leftBehind(r.pid), [], 'nothing left under /dev/shm');
}

for (const [listen, why] of [
  ['127.0.0.1:99999', /port 99999 is outside/],
  ['[::1]:abc', /port must be a decimal number/],
  [':', /port must be a decimal number/],
  ['127.0.0.1:', /port must be a decimal number/],
  ['::1:8080', /IPv6 address goes in brackets/],
  ['[nonsense]:80', /not an IPv6 address/],
  ['127.0.0.1:0x50', /port must be a decimal number/],
  [`/tmp/${'x'.repeat(120)}.sock`, /at most 107 fit in a socket address/],
] as const) {
  test(`--listen ${listen.length > 40 ? 'a path over the sun_path limit' : listen}: usage error, exit 2, nothing created`, async () => {
    assertRefused(await runHost(['--listen', listen]), new RegExp(`^hvkit: --listen: .*${why.source}`));
  });
}

test('--listen on an address in use: exits promptly with one line, nothing left behind', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    assertRefused(
      await runHost(['--listen', `127.0.0.1:${port}`]),
      new RegExp(`127\\.0\\.0\\.1:${port}: address already in use`),
    );
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test('--listen in a directory that does not exist: exits promptly with one line, nothing left behind', async () => {
  assertRefused(await runHost(['--listen', '/nonexistent-hvkit-dir/in.sock']), /nonexistent-hvkit-dir\/in\.sock: /);
});

test('--max-guest-memory out of range is a usage error', async () => {
  assertRefused(await runHost(['--max-guest-memory', '5000']), /--max-guest-memory.*1\.\.4096 MiB/);
});

test('ctl create over --max-guest-memory is refused, naming the limit', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--max-guest-memory', '2']);
  try {
    const r = ctl(h.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'compute']);
    assert.equal(r.code, 2, r.err); // a bad argument for this host: usage, like any out-of-range option
    assert.match(r.err, /--memory 4: .*--max-guest-memory/);
    assert.equal(ctl(h.pid, ['create', '--vcpus', '1', '--memory', '2', '--workload', 'compute']).code, 0);
  } finally {
    await stopHost(h);
  }
});

test('--ctl-idle-timeout: an idle control-socket connection is closed by the host', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--ctl-idle-timeout', '0.2']);
  try {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect(h.socket);
      const timer = setTimeout(() => resolve(false), hangDeadline(10_000));
      s.on('error', () => {});
      s.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.equal(closed, true);
  } finally {
    await stopHost(h);
  }
});
