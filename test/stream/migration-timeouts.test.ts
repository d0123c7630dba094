/**
 * Migration's waits are settings, not constants: the destination's verification (which grows with
 * the guest's memory and the machine's speed) has its own deadline, verifyTimeoutMs, that
 * `hvkit host --verify-timeout` sets for the migrations a host sends; a destination that verifies
 * for longer than that fails the migration with the source running on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { newestStreamVersion, readableVersions } from '../../src/formats/stream/abi.ts';
import { DEFAULT_VERIFY_TIMEOUT_MS, migrate } from '../../src/host/migration/migrate.ts';
import { helloLine, MIGRATE_IN } from '../../src/host/migration/protocol.ts';
import { TestHost, tempDir } from './helpers.ts';

/** A destination that takes the whole stream and then verifies for `verifyMs` before READY 1. */
async function slowDestination(path: string, verifyMs: number) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let greeted = false;
    socket.on('data', (chunk) => {
      if (!greeted && chunk.toString('latin1').startsWith(`${MIGRATE_IN}\n`)) {
        greeted = true;
        socket.write(helloLine(readableVersions(newestStreamVersion())));
        // Once the source stops sending (its stream ended), "verify" for verifyMs.
        let quiet: NodeJS.Timeout | undefined;
        socket.on('data', () => {
          clearTimeout(quiet);
          quiet = setTimeout(() => setTimeout(() => socket.writable && socket.write('READY 1\n'), verifyMs), 100);
        });
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test('a destination verifying past verifyTimeoutMs fails the migration; the source runs on', async () => {
  const tmp = tempDir();
  const h = new TestHost('sim');
  const dst = await slowDestination(join(tmp.dir, 'slow.sock'), 5_000);
  try {
    const dom = await h.host.createDomain({ name: 'slow', vcpus: 1, memoryMiB: 4, workload: 'compute' });
    const started = Date.now();
    await assert.rejects(migrate(h.host, dom.domid, join(tmp.dir, 'slow.sock'), { verifyTimeoutMs: 400 }), {
      name: 'MigrationError',
      message: /the destination to verify the stream/,
    });
    assert.ok(Date.now() - started < 4_500, 'it gave up at its own deadline, not the destination’s answer');
    assert.equal(h.host.domain(dom.domid)?.state, 'running', 'the source domain was unpaused');
  } finally {
    await dst.close();
    await h.stop();
    tmp.remove();
  }
});

test('the verify deadline waits as long as it is told to', async () => {
  const tmp = tempDir();
  const h = new TestHost('sim');
  // READY after ~600 ms with a 5 s deadline: the wait is not the old fixed one cut short, and the
  // migration then goes on to GO (this destination never confirms, so the outcome is unknown).
  const dst = await slowDestination(join(tmp.dir, 'slow.sock'), 600);
  try {
    const dom = await h.host.createDomain({ name: 'slow', vcpus: 1, memoryMiB: 4, workload: 'compute' });
    await assert.rejects(
      migrate(h.host, dom.domid, join(tmp.dir, 'slow.sock'), { verifyTimeoutMs: 5_000, confirmTimeoutMs: 300 }),
      { name: 'MigrationOutcomeUnknownError' },
    );
    assert.equal(h.host.domain(dom.domid)?.state, 'paused', 'past GO the source stays paused');
  } finally {
    await dst.close();
    await h.stop();
    tmp.remove();
  }
  assert.ok(DEFAULT_VERIFY_TIMEOUT_MS >= 60_000, 'the default leaves room for slow machines');
});

test('hvkit host refuses a timeout that is not a positive number of seconds', () => {
  for (const [flag, value] of [
    ['--verify-timeout', '0'],
    ['--verify-timeout', 'abc'],
    ['--peer-timeout', '-1'],
    ['--peer-timeout', '999999'],
  ]) {
    const r = spawnSync(process.execPath, ['bin/hvkit.mjs', 'host', flag!, value!], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${flag} takes seconds`));
  }
});
