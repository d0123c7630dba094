/**
 * The control socket cannot be hoarded: idle connections are closed after the idle timeout, a
 * request that never arrives whole is cut off at the request deadline, and a connection over the
 * limit is refused with a message the client decodes ("host busy"), never a bare EPIPE. A
 * decoder failure that is not a FormatError is a defect: reported and answered internal_error,
 * not bad_frame.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { registerCoreCalls } from '../../src/calls/core.ts';
import { Dispatcher } from '../../src/calls/dispatcher.ts';
import { CtlClient, CtlConnectionError } from '../../src/ctl/client.ts';
import { FAMILY, STATUS } from '../../src/formats/callword/constants.ts';
import { encodeRequest } from '../../src/formats/callword/frame.ts';
import { callWord } from '../../src/formats/callword/word.ts';
import { ControlSocket, type ControlSocketOptions } from '../../src/host/control-socket.ts';
import { selfIdentity } from '../../src/os/procfs.ts';
import { hangDeadline } from '../support/slowdown.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-ctl-limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ABI_VERSION = callWord(FAMILY.core, 0);

async function withSocket(options: ControlSocketOptions, fn: (cs: ControlSocket) => Promise<void>): Promise<void> {
  const d = new Dispatcher();
  registerCoreCalls(d, { abi: { major: 1, revision: 1 } });
  const cs = await ControlSocket.listen(selfIdentity(), d, { dir, ...options });
  try {
    await fn(cs);
  } finally {
    await cs.close();
  }
}

function rawConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves true once the server closed `s`, false if it is still open after the hang deadline. */
function closedByServer(s: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), hangDeadline(10_000));
    s.on('error', () => {});
    s.resume();
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('a connection over the limit gets "host busy", not EPIPE', async () => {
  // Long timeouts: the held connections must stay for the whole test.
  await withSocket({ maxConnections: 4, idleTimeoutMs: 600_000 }, async (cs) => {
    const held = await Promise.all(Array.from({ length: 4 }, () => rawConnect(cs.path)));
    for (let i = 0; i < 5; i++) {
      const extra = await CtlClient.connect(cs.path);
      await assert.rejects(
        extra.call(ABI_VERSION),
        (e: Error) =>
          e instanceof CtlConnectionError &&
          /host busy: 4 connections/.test(e.message) &&
          !/EPIPE|ECONNRESET/.test(e.message),
      );
      extra.close();
    }
    for (const s of held) s.destroy();
  });
});

test('idle connections are closed after the idle timeout, freeing their places', async () => {
  await withSocket({ maxConnections: 3, idleTimeoutMs: 100 }, async (cs) => {
    const held = await Promise.all(Array.from({ length: 3 }, () => rawConnect(cs.path)));
    const closed = await Promise.all(held.map(closedByServer));
    assert.deepEqual(closed, [true, true, true], 'every idle connection was closed by the host');
    const deadline = Date.now() + hangDeadline(10_000);
    while (cs.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const client = await CtlClient.connect(cs.path);
    assert.equal((await client.call(ABI_VERSION)).status, STATUS.ok);
    client.close();
  });
});

test('a request that never arrives whole is cut off at the request deadline', async () => {
  await withSocket({ idleTimeoutMs: 600_000, requestTimeoutMs: 100 }, async (cs) => {
    const s = await rawConnect(cs.path);
    s.write(encodeRequest(ABI_VERSION, []).subarray(0, 10));
    assert.equal(await closedByServer(s), true, 'the stalled request was cut off');
  });
});

test('a connection in use is not closed by the idle timeout while it keeps asking', async () => {
  await withSocket({ idleTimeoutMs: 300 }, async (cs) => {
    const client = await CtlClient.connect(cs.path);
    for (let i = 0; i < 5; i++) {
      assert.equal((await client.call(ABI_VERSION)).status, STATUS.ok);
      await new Promise((r) => setTimeout(r, 50));
    }
    client.close();
  });
});

test('a decoder failure that is not a FormatError is answered internal_error and reported', async () => {
  const reported: unknown[] = [];
  const decode = () => {
    throw new TypeError('a defect in the decoder');
  };
  await withSocket({ decode, onInternalError: (_what, e) => reported.push(e) }, async (cs) => {
    const client = await CtlClient.connect(cs.path);
    const r = await client.call(ABI_VERSION);
    assert.equal(r.status, STATUS.internalError);
    client.close();
  });
  assert.equal(reported.length, 1);
  assert.match(String(reported[0]), /a defect in the decoder/);
});

test('an idle peer that does not close its side after the host ended is dropped all the same', async () => {
  await withSocket({ idleTimeoutMs: 100, requestTimeoutMs: 100 }, async (cs) => {
    const s = connect({ path: cs.path, allowHalfOpen: true });
    s.on('error', () => {});
    s.resume();
    await new Promise<void>((r) => s.once('connect', () => r()));
    // The host counts it until it is gone on its side (the peer, half-open, notices nothing).
    while (cs.connections === 0) await new Promise((r) => setTimeout(r, 5));
    const deadline = Date.now() + hangDeadline(10_000);
    while (cs.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cs.connections, 0, 'the lingering connection was dropped');
    s.destroy();
  });
});

test('a request dripped one byte at a time is cut off at its deadline, counted from its first byte', async () => {
  await withSocket({ idleTimeoutMs: 600_000, requestTimeoutMs: 300 }, async (cs) => {
    const s = await rawConnect(cs.path);
    const frame = encodeRequest(ABI_VERSION, []);
    let sent = 0;
    // Each byte comes well within the deadline of the one before: only a deadline fixed at the
    // first byte ends this before the frame is whole.
    const drip = setInterval(() => {
      if (sent < frame.length && !s.destroyed) s.write(frame.subarray(sent, ++sent));
    }, 100);
    try {
      assert.equal(await closedByServer(s), true, 'the server closed the dripping connection');
      assert.ok(sent < frame.length, `cut off after ${sent} of ${frame.length} bytes`);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
  });
});
