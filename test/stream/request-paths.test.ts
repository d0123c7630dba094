/**
 * A path a one-line stream request cannot carry (a control character: C0 or DEL) is refused as a
 * usage error on both sides: the CLI before it sends (a newline would cut the request, making
 * `ctl save 1 '/tmp/a<LF>b'` write /tmp/a), the host on every request it reads, and endpoint
 * parsing for `--to` and listeners. Nothing is written anywhere.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { registerCtl } from '../../src/cli/commands/ctl.ts';
import { ctlStream, streamRequest } from '../../src/cli/commands/ctl-stream.ts';
import { UsageError } from '../../src/errors.ts';
import { parseEndpoint } from '../../src/host/migration/endpoint.ts';
import { streamInstaller } from '../../src/host/migration/install.ts';
import { streamSocketPath } from '../../src/host/migration/receiver.ts';
import { startHostServer } from '../../src/host/server.ts';
import { tempDir } from './helpers.ts';

/** Every C0 control character and DEL. */
const CONTROLS = [...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)), '\u007f'];

async function ctl(args: string[]): Promise<number> {
  let code = 0;
  const program = new Command().exitOverride();
  registerCtl(
    program,
    (c) => {
      code = c;
    },
    [ctlStream],
  );
  await program.parseAsync(['ctl', ...args], { from: 'user' });
  return code;
}

async function withHost(body: (socket: string, pid: string, dir: string) => Promise<void>): Promise<void> {
  process.env.HVKIT_BACKEND = 'sim';
  const tmp = tempDir();
  const server = await startHostServer({
    installers: [streamInstaller({ log: () => {} })],
    domains: [{ vcpus: 1, memoryMiB: 1, workload: 'compute' }],
  });
  try {
    const path = streamSocketPath(server.host);
    const deadline = Date.now() + 5000;
    while (!existsSync(path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await body(path, String(server.host.identity.pid), tmp.dir);
    assert.equal(server.host.list().length, 1, 'no domain was created');
  } finally {
    await server.stop();
    tmp.remove();
    delete process.env.HVKIT_BACKEND;
  }
}

test('the host refuses a SAVE, RESTORE or MIGRATE request whose path holds a control character', async () => {
  await withHost(async (socket, _pid, dir) => {
    for (const c of CONTROLS.filter((c) => c !== '\n')) {
      const target = `${dir}/a${c}b`;
      for (const line of [`SAVE 1 0 ${target}`, `RESTORE 0 ${target}`, `MIGRATE 1 ${target}`]) {
        const answer = await streamRequest(socket, line);
        assert.equal(answer.ok, false, `${JSON.stringify(line)} was accepted`);
        assert.equal(answer.kind, 'usage', answer.error);
        assert.match(answer.error!, /control character/);
      }
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing was written');
  });
});

test('ctl save, restore and migrate refuse a path with a newline (or any control character) before sending', async () => {
  await withHost(async (_socket, pid, dir) => {
    for (const c of ['\n', '\r', '\t', '\u0001', '\u007f']) {
      const target = join(dir, `a${c}b`);
      for (const args of [
        ['save', '1', target],
        ['restore', target],
        ['migrate', '1', '--to', target],
      ]) {
        await assert.rejects(
          ctl(['--host', pid, ...args]),
          (e: unknown) => e instanceof UsageError && /control character/.test(e.message),
          JSON.stringify(args),
        );
      }
    }
    assert.deepEqual(readdirSync(dir), [], `nothing was written (not ${join(dir, 'a')})`);
  });
});

test('endpoint parsing refuses a unix socket path with a control character', () => {
  for (const c of CONTROLS) {
    for (const text of [`/tmp/s${c}x`, `unix:/tmp/s${c}x`]) {
      assert.throws(() => parseEndpoint(text), UsageError, JSON.stringify(text));
    }
  }
  assert.deepEqual(parseEndpoint('/tmp/s x'), { kind: 'unix', path: '/tmp/s x' });
});
