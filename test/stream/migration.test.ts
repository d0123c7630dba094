/**
 * Live migration between two host processes (this one and a child host) on the simulated backend
 * (on real KVM: migration.kvm.test.ts) over a unix socket and loopback TCP: the guest continues on
 * the destination where it stopped; and failures — the destination dying mid-stream, a corrupted
 * stream, a destination that refuses or stops reading — leave the source domain running and the
 * destination without any domain. Past GO, a missing confirmation leaves the source paused
 * ("outcome unknown"). Also the receiver's bounds (one migration at a time, guest RAM,
 * whole-stream deadline, the socket path it may take over), the wire's line reads, and `hvkit
 * ctl`'s stream request against hosts that do not answer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { streamRequest } from '../../src/cli/commands/ctl-stream.ts';
import { EnvironmentError, UsageError } from '../../src/errors.ts';
import { newestStreamVersion, readableVersions } from '../../src/formats/stream/abi.ts';
import { StreamReader } from '../../src/formats/stream/reader.ts';
import { MigrationOutcomeUnknownError, migrate } from '../../src/host/migration/migrate.ts';
import { helloLine, MIGRATE_IN } from '../../src/host/migration/protocol.ts';
import { listenForStreams } from '../../src/host/migration/receiver.ts';
import { Wire } from '../../src/host/migration/wire.ts';
import { sleep, TestHost, tempDir } from './helpers.ts';
import { assertSourceRuns, registerMigrationTests, withPair } from './migration.cases.ts';

registerMigrationTests('sim');

test('sim: the destination dies mid-stream: the source runs on', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    ['--die-after', '200'],
    async (src, dst, domid, uniqueId) => {
      await assert.rejects(
        migrate(src.host, domid, dst.address, { timeoutMs: 5000 }),
        /closed|reset|EPIPE|ECONNRESET/i,
      );
      await assertSourceRuns(src, domid, uniqueId);
      const deadline = Date.now() + 5000;
      while (!dst.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(dst.exited, 'the destination process is gone');
    },
  );
});

test('sim: a corrupted stream is refused by the destination: the source runs on, the destination is clean', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    [],
    async (src, dst, domid, uniqueId) => {
      // Flip one byte of the first vCPU record's body (offset 32 + 16 + 48 + 16 + 8).
      const target = 32 + 16 + 48 + 16 + 8;
      const transform = (piece: Uint8Array, offset: number) => {
        if (target < offset || target >= offset + piece.length) return piece;
        const copy = new Uint8Array(piece);
        copy[target - offset]! ^= 0x40;
        return copy;
      };
      await assert.rejects(migrate(src.host, domid, dst.address, { transform }), /bad-checksum/);
      await assertSourceRuns(src, domid, uniqueId);
      assert.deepEqual(await dst.list(), []);
    },
  );
});

test('sim: a destination that refuses leaves the source running and itself clean', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    ['--refuse', 'no room here'],
    async (src, dst, domid, uniqueId) => {
      await assert.rejects(migrate(src.host, domid, dst.address), /no room here/);
      await assertSourceRuns(src, domid, uniqueId);
      assert.deepEqual(await dst.list(), []);
    },
  );
});

test('sim: nothing listening: the source is never paused', async () => {
  const src = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await assert.rejects(
      migrate(src.host, dom.domid, join(tmp.dir, 'nobody.sock'), { timeoutMs: 2000 }),
      /cannot connect/,
    );
    assert.ok(!src.events.some((e) => e.kind === 'paused'), 'the source was not paused');
    assert.equal(src.host.domain(dom.domid)?.state, 'running');
  } finally {
    await src.stop();
    tmp.remove();
  }
});

/** A fake destination on a unix socket in `dir`: `onConnect` gets each accepted socket. */
async function fakeDestination(
  dir: string,
  onConnect: (socket: Socket) => void,
): Promise<{ path: string; server: Server }> {
  const path = join(dir, 'fake.sock');
  const server = createServer(onConnect);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server };
}

/** Reads one line from a raw socket (test side). */
function lineFrom(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      if (nl + 1 < text.length) socket.unshift(Buffer.from(text.slice(nl + 1), 'latin1'));
      resolve(text.slice(0, nl));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before a line (${JSON.stringify(text)})`)));
    socket.resume();
  });
}

function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

const OUR_HELLO = helloLine(readableVersions(newestStreamVersion()));

test('sim: a destination that stops reading fails the migration after the write timeout: the source runs on', async () => {
  const src = new TestHost('sim');
  const tmp = tempDir();
  const held: Socket[] = [];
  const { path, server } = await fakeDestination(tmp.dir, (socket) => {
    held.push(socket);
    void lineFrom(socket).then(() => socket.write(OUR_HELLO)); // then never reads again
  });
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await src.rounds(dom.uniqueId, 1, 1);
    // The guest's stream is small (untouched pages are not sent): pad its first piece so it
    // cannot fit in the socket buffers of a peer that does not read.
    const transform = (piece: Uint8Array, offset: number) => (offset === 0 ? new Uint8Array(16 << 20) : piece);
    await assert.rejects(migrate(src.host, dom.domid, path, { timeoutMs: 1000, transform }), /took no data/);
    await assertSourceRuns(src, dom.domid, dom.uniqueId);
  } finally {
    for (const s of held) s.destroy();
    server.close();
    await src.stop();
    tmp.remove();
  }
});

test('sim: past GO, a destination that closes without RUNNING leaves the source paused: outcome unknown', async () => {
  const src = new TestHost('sim');
  const tmp = tempDir();
  const { path, server } = await fakeDestination(tmp.dir, (socket) => {
    void (async () => {
      await lineFrom(socket);
      socket.write(OUR_HELLO);
      const reader = new StreamReader();
      await new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          reader.push(chunk);
          if (!reader.ended) return;
          socket.off('data', onData);
          resolve();
        };
        socket.on('data', onData);
        socket.resume();
      });
      socket.write('READY 7\n');
      assert.equal(await lineFrom(socket), 'GO');
      socket.destroy();
    })().catch(() => socket.destroy());
  });
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await src.rounds(dom.uniqueId, 1, 1);
    await assert.rejects(migrate(src.host, dom.domid, path, { timeoutMs: 5000 }), (err: unknown) => {
      assert.ok(err instanceof MigrationOutcomeUnknownError, String(err));
      assert.match(err.message, /outcome unknown/);
      assert.equal(err.domid, dom.domid);
      return true;
    });
    assert.equal(src.host.domain(dom.domid)?.state, 'paused', 'the source is left paused, not unpaused');
  } finally {
    server.close();
    await src.stop();
    tmp.remove();
  }
});

test('a timed-out line read does not swallow the next line', async () => {
  const tmp = tempDir();
  let peer: Socket | undefined;
  const { path, server } = await fakeDestination(tmp.dir, (socket) => {
    peer = socket;
  });
  const client = await connected(path);
  try {
    const wire = new Wire(client);
    await assert.rejects(wire.readLine(20, 'nothing'), /timed out/);
    while (!peer) await sleep(10);
    peer.write('first\nsecond\n');
    assert.equal(await wire.readLine(30_000, 'first'), 'first');
    assert.equal(await wire.readLine(30_000, 'second'), 'second');
  } finally {
    client.destroy();
    peer?.destroy();
    server.close();
    tmp.remove();
  }
});

test('sim: the receiver takes one migration at a time and enforces a whole-stream deadline', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const listener = await listenForStreams(h.host, join(tmp.dir, 'in.sock'), {
    timeoutMs: 60_000,
    receiveTimeoutMs: 500,
  });
  const first = await connected(listener.address);
  const second = await connected(listener.address);
  try {
    first.write(`${MIGRATE_IN}\n`);
    assert.equal(`${await lineFrom(first)}\n`, OUR_HELLO);
    second.write(`${MIGRATE_IN}\n`);
    assert.match(await lineFrom(second), /^FAIL .*another migration/);
    // The first sender sends nothing more: the whole-stream deadline ends it before the idle timeout.
    assert.match(await lineFrom(first), /^FAIL .*took longer than 500 ms/);
  } finally {
    first.destroy();
    second.destroy();
    await listener.close();
    await h.stop();
    tmp.remove();
  }
});

test('sim: the receiver refuses a guest larger than its maxMemoryMiB: the source runs on', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const listener = await listenForStreams(h.host, join(tmp.dir, 'in.sock'), { maxMemoryMiB: 1 });
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 2, workload: 'compute' });
    await h.rounds(dom.uniqueId, 1, 1);
    await assert.rejects(migrate(h.host, dom.domid, listener.address), /at most 1 MiB/);
    await assertSourceRuns(h, dom.domid, dom.uniqueId);
    assert.equal(h.host.list().length, 1, 'the receiver created nothing');
  } finally {
    await listener.close();
    await h.stop();
    tmp.remove();
  }
});

test('sim: the receiver takes over only a stale socket path', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'file');
    writeFileSync(file, 'keep me');
    await assert.rejects(
      listenForStreams(h.host, file),
      (err: unknown) => err instanceof UsageError && /not a socket/.test(err.message),
    );
    assert.ok(existsSync(file), 'a file that is not a socket is left alone');

    const live = await listenForStreams(h.host, join(tmp.dir, 'live.sock'));
    await assert.rejects(listenForStreams(h.host, live.address), /in use/);
    await live.close();

    // A socket whose listener died without removing it (a process that exited).
    const stale = join(tmp.dir, 'stale.sock');
    const made = spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`,
    ]);
    assert.equal(made.status, 0);
    assert.ok(existsSync(stale));
    const taken = await listenForStreams(h.host, stale);
    await taken.close();
  } finally {
    await h.stop();
    tmp.remove();
  }
});

test('ctl stream requests fail at once on a host that closes without answering or answers too much', async () => {
  const tmp = tempDir();
  let mode: 'close' | 'flood' = 'close';
  const { path, server } = await fakeDestination(tmp.dir, (socket) => {
    if (mode === 'close') socket.end();
    else socket.write('x'.repeat(10_000));
  });
  try {
    await assert.rejects(streamRequest(path, 'SAVE 1 0 /x', 600_000), (err: unknown) => {
      return err instanceof EnvironmentError && /without answering/.test(err.message);
    });
    mode = 'flood';
    await assert.rejects(streamRequest(path, 'SAVE 1 0 /x', 600_000), /longer than 4096/);
  } finally {
    server.close();
    tmp.remove();
  }
});
