/**
 * `hvkit ctl save | restore | migrate` against a host server with the stream installer (the
 * simulated backend): the commands reach the host's stream socket, the file appears, the restored
 * domain runs, a bad file is refused with exit 1, and the stream family answers its calls.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { registerCtl } from '../../src/cli/commands/ctl.ts';
import { ctlStream } from '../../src/cli/commands/ctl-stream.ts';
import { FAMILY } from '../../src/formats/callword/constants.ts';
import { STREAM_CALL, streamInstaller } from '../../src/host/migration/install.ts';
import { streamSocketPath } from '../../src/host/migration/receiver.ts';
import { startHostServer } from '../../src/host/server.ts';
import { tempDir } from './helpers.ts';

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
  const out = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await program.parseAsync(['ctl', ...args], { from: 'user' });
  } finally {
    process.stdout.write = out;
  }
  return code;
}

test('ctl save, restore and a refused restore through the host stream socket', async () => {
  process.env.HVKIT_BACKEND = 'sim';
  const tmp = tempDir();
  const server = await startHostServer({
    installers: [streamInstaller({ log: () => {} })],
    domains: [{ vcpus: 1, memoryMiB: 1, workload: 'compute' }],
  });
  try {
    const { host } = server;
    const deadline = Date.now() + 5000;
    while (!existsSync(streamSocketPath(host)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const versions = await server.dispatcher.dispatch((FAMILY.stream << 24) | (STREAM_CALL.versions << 16), [], {
      caller: { kind: 'tool' },
    });
    assert.deepEqual(versions, { status: 0, values: [2n, 1n] });

    const pid = String(host.identity.pid);
    const file = join(tmp.dir, 'one.hvst');
    assert.equal(await ctl(['--host', pid, 'save', '1', file]), 0);
    assert.ok(existsSync(file));
    assert.equal(host.domain(1)?.state, 'running');
    assert.equal(await ctl(['--host', pid, 'restore', file]), 0);
    assert.deepEqual(
      host.list().map((d) => d.state),
      ['running', 'running'],
    );
    const bad = join(tmp.dir, 'bad.hvst');
    writeFileSync(bad, 'not a stream at all, just some bytes of text');
    assert.equal(await ctl(['--host', pid, 'restore', bad]), 1);
    assert.equal(host.list().length, 2, 'nothing was created from the bad file');
  } finally {
    await server.stop();
    tmp.remove();
    delete process.env.HVKIT_BACKEND;
  }
});
