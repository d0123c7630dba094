/**
 * What a migration peer says never reaches the operator raw: a destination's refusal or odd
 * answer carrying terminal escapes, C1 controls or bidi overrides ends up escaped in the error the
 * source raises (and so in `hvkit ctl migrate`'s output and the host log).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate } from '../../src/host/migration/migrate.ts';
import { helloLine, MIGRATE_IN } from '../../src/host/migration/protocol.ts';
import { TestHost, tempDir } from './helpers.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// ESC ] title BEL, CSI as one C1 byte, and a right-to-left override as UTF-8 bytes.
const HOSTILE = Buffer.concat([
  Buffer.from('owned \x1b]0;pwned\x07 \x1b[2J', 'latin1'),
  Buffer.from([0x9b, 0x33, 0x31, 0x6d]),
  Buffer.from(' \u202e', 'utf8'),
]);

async function migrateTo(answer: (socket: Socket) => void): Promise<Error> {
  const src = new TestHost('sim');
  const tmp = tempDir();
  const path = join(tmp.dir, 'evil.sock');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => answer(socket));
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    const err = await migrate(src.host, dom.domid, path, { timeoutMs: 5000, verifyTimeoutMs: 5000 }).then(
      () => assert.fail('the migration succeeded'),
      (e: Error) => e,
    );
    assert.equal(src.host.domain(dom.domid)?.state, 'running', 'the source runs on');
    return err;
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    await src.host.stop();
    tmp.remove();
  }
}

test('a hostile refusal instead of the hello is escaped in the error', async () => {
  const err = await migrateTo((s) => s.end(Buffer.concat([Buffer.from('FAIL '), HOSTILE, Buffer.from('\n')])));
  assert.match(err.message, /refused the migration: owned /);
  assert.doesNotMatch(err.message, CONTROL);
  assert.match(err.message, /\\x1b\]0;pwned\\x07/);
});

test('a hostile refusal after the hello is escaped in the error', async () => {
  const err = await migrateTo((s) => {
    s.on('data', () => {});
    s.write(helloLine([2, 1]));
    s.write(Buffer.concat([Buffer.from('FAIL '), HOSTILE, Buffer.from('\n')]));
    setTimeout(() => s.end(), 50);
  });
  assert.match(err.message, /owned /);
  assert.doesNotMatch(err.message, CONTROL);
});

test('a hostile line that is not a hello is escaped in the error', async () => {
  const err = await migrateTo((s) => s.end(Buffer.concat([Buffer.from(`${MIGRATE_IN} `), HOSTILE, Buffer.from('\n')])));
  assert.match(err.message, /is not a migration listener/);
  assert.doesNotMatch(err.message, CONTROL);
});
