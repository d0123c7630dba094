import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { registerCoreCalls } from '../../src/calls/core.ts';
import { Dispatcher, ok } from '../../src/calls/dispatcher.ts';
import { CtlClient, CtlConnectionError } from '../../src/ctl/client.ts';
import {
  FAMILY,
  HEADER_SIZE,
  MAX_ARGS,
  REQUEST_MAGIC,
  RESPONSE_MAGIC,
  STATUS,
} from '../../src/formats/callword/constants.ts';
import { decodeResponse, encodeRequest } from '../../src/formats/callword/frame.ts';
import { callWord } from '../../src/formats/callword/word.ts';
import { removeStaleRegions } from '../../src/host/cleanup.ts';
import { ControlSocket, MAX_BUFFERED } from '../../src/host/control-socket.ts';
import { selfIdentity } from '../../src/os/procfs.ts';
import { controlSocketName, findControlSockets } from '../../src/shm/host-sockets.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-ctl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A dispatcher with the core family, an echo call and a call that counts sessions ending. */
function testDispatcher() {
  const d = new Dispatcher();
  registerCoreCalls(d, { abi: { major: 1, revision: 1 } });
  const ended: number[] = [];
  d.register(FAMILY.experimental, 1, { name: 'experimental.echo', handler: (args) => ok(...args) });
  d.register(FAMILY.experimental, 2, {
    name: 'experimental.track',
    nargs: 0,
    handler: (_a, ctx) => {
      ctx.session?.onClose(() => ended.push(ctx.session!.id));
      return ok(BigInt(ctx.session?.id ?? 0));
    },
  });
  return { d, ended };
}

async function withSocket(fn: (cs: ControlSocket, ended: number[]) => Promise<void>, maxConnections?: number) {
  const { d, ended } = testDispatcher();
  const cs = await ControlSocket.listen(selfIdentity(), d, { dir, ...(maxConnections ? { maxConnections } : {}) });
  try {
    await fn(cs, ended);
  } finally {
    await cs.close();
  }
}

/** Sends raw bytes, then reads until the server closes or `ms` passes; returns what came back. */
function rawExchange(path: string, bytes: Buffer, endAfter: boolean): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(path);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => {
      s.write(bytes);
      if (endAfter) s.end();
      // Past what we sent, ask for the ABI version: its answer proves the server read everything.
      else s.write(encodeRequest(callWord(FAMILY.core, 0), []));
    });
    s.on('data', () => {
      const all = Buffer.concat(chunks);
      // Done once the last frame is the abi_version answer (values [1, 1]).
      if (!endAfter && all.length >= 32 && all.readUInt32LE(all.length - 32 + 12) === 2) finish(false);
    });
  });
}

function responses(data: Buffer): { status: number; values: bigint[] }[] {
  const out = [];
  let buf = data;
  for (;;) {
    const d = decodeResponse(buf);
    if (d.kind === 'need') break;
    out.push(d.frame);
    buf = buf.subarray(d.size);
  }
  assert.equal(buf.length, 0, 'no partial response');
  return out;
}

test('the socket is named after the host, mode 0600, found while alive, removed on close', async () => {
  const { d } = testDispatcher();
  const cs = await ControlSocket.listen(selfIdentity(), d, { dir });
  assert.equal(cs.path, join(dir, controlSocketName(selfIdentity())));
  assert.match(controlSocketName(selfIdentity()), /^hvkit\.\d+\.\d+\.ctl$/);
  assert.equal(statSync(cs.path).mode & 0o777, 0o600);
  assert.ok(statSync(cs.path).isSocket());
  assert.deepEqual(
    findControlSockets(dir).map((s) => s.path),
    [cs.path],
  );
  await assert.rejects(ControlSocket.listen(selfIdentity(), d, { dir }), /already exists/);
  await cs.close();
  assert.equal(existsSync(cs.path), false);
  assert.deepEqual(findControlSockets(dir), []);
});

test('calls over the socket: answers in order, errors as statuses, sessions end with the connection', async () => {
  await withSocket(async (cs, ended) => {
    const client = await CtlClient.connect(cs.path);
    const echo = callWord(FAMILY.experimental, 1);
    const answers = await Promise.all([
      client.call(echo, [1n, 2n]),
      client.call(callWord(0x42, 0)),
      client.call((echo | 0x100) >>> 0),
      client.call(callWord(FAMILY.experimental, 2)),
      client.call(echo, [(1n << 64n) - 1n]),
    ]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [STATUS.ok, STATUS.unknownFamily, STATUS.reservedBits, STATUS.ok, STATUS.ok],
    );
    assert.deepEqual(answers[0]!.values.slice(0, 2), [1n, 2n]);
    assert.equal(answers[4]!.values[0], (1n << 64n) - 1n);
    const session = Number(answers[3]!.values[0]);
    assert.deepEqual(ended, []);
    client.close();
    // The server notices the close on its own schedule: wait for it, with a generous deadline.
    const deadline = Date.now() + 30_000;
    while ((cs.connections > 0 || ended.length === 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(ended, [session]);
  });
});

test('hostile frames: a bad header is answered bad_frame and closed; a cut frame is dropped; the server lives on', async () => {
  await withSocket(async (cs) => {
    const header = (magic: number, length: number, word: number, nargs: number) => {
      const b = Buffer.alloc(HEADER_SIZE);
      b.writeUInt32LE(magic, 0);
      b.writeUInt32LE(length, 4);
      b.writeUInt32LE(word, 8);
      b.writeUInt32LE(nargs, 12);
      return b;
    };
    for (const bad of [
      header(0xdeadbeef, 16, 0, 0),
      header(REQUEST_MAGIC, 0xffffffff, 0, 0),
      header(REQUEST_MAGIC, 16 + 8 * 1000, 0, 1000),
      header(REQUEST_MAGIC, 16 + 8 * (MAX_ARGS + 1), 0, MAX_ARGS + 1),
      header(REQUEST_MAGIC, 24, 0, 2),
      header(REQUEST_MAGIC, 8, 0, 0),
    ]) {
      const { data, closed } = await rawExchange(cs.path, bad, false);
      assert.ok(closed);
      assert.deepEqual(responses(data), [{ status: STATUS.badFrame, values: [] }]);
    }
    // Truncated: half a header, then half a frame, then the peer closes: nothing answered.
    for (const cut of [
      header(REQUEST_MAGIC, 32, 0, 2).subarray(0, 9),
      Buffer.concat([header(REQUEST_MAGIC, 32, 0, 2), Buffer.alloc(5)]),
    ]) {
      const { data, closed } = await rawExchange(cs.path, cut, true);
      assert.ok(closed);
      assert.equal(data.length, 0);
    }
    const client = await CtlClient.connect(cs.path);
    assert.deepEqual((await client.call(callWord(FAMILY.core, 0))).values, [1n, 1n]);
    client.close();
  });
});

test('property: any bytes on the socket get well-formed answers or a close, never a crash', async () => {
  await withSocket(async (cs) => {
    const validFrame = fc
      .tuple(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: MAX_ARGS }),
      )
      .map(([w, a]) => encodeRequest(w, a));
    const chunk = fc.oneof(
      validFrame,
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([len, n]) => {
        const b = Buffer.alloc(16);
        b.writeUInt32LE(REQUEST_MAGIC, 0);
        b.writeUInt32LE(len, 4);
        b.writeUInt32LE(n, 12);
        return b;
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { minLength: 1, maxLength: 6 }), async (chunks) => {
        const { data } = await rawExchange(cs.path, Buffer.concat(chunks), true);
        for (const r of responses(data)) {
          assert.ok(Object.values(STATUS).includes(r.status as never));
        }
        assert.ok(data.length === 0 || data.readUInt32LE(0) === RESPONSE_MAGIC);
      }),
      { numRuns: 200 },
    );
    const client = await CtlClient.connect(cs.path);
    assert.equal((await client.call(callWord(FAMILY.core, 0))).status, STATUS.ok);
    client.close();
  });
});

test('a flood of requests from a peer that never reads stays bounded and is served once it reads', async () => {
  await withSocket(async (cs) => {
    const frame = encodeRequest(callWord(FAMILY.experimental, 1), new Array(MAX_ARGS).fill(7n));
    const count = Math.ceil((4 * MAX_BUFFERED) / frame.length);
    const s = connect(cs.path);
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.pause();
    for (let i = 0; i < count; i++) s.write(frame);
    await new Promise((r) => setTimeout(r, 200));
    let received = 0;
    const done = new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        received += c.length;
        // Each echo answers as many values as it got arguments: a response is as long as its request.
        if (received >= count * frame.length) resolve();
      });
    });
    s.resume();
    await done;
    assert.equal(received, count * frame.length);
    s.destroy();
  });
});

test('connections past the limit are closed on arrival', async () => {
  await withSocket(async (cs) => {
    const a = await CtlClient.connect(cs.path);
    assert.equal((await a.call(callWord(FAMILY.core, 0))).status, STATUS.ok);
    const b = await CtlClient.connect(cs.path);
    await assert.rejects(b.call(callWord(FAMILY.core, 0)), CtlConnectionError);
    a.close();
  }, 1);
});

test('the hosts’ stale cleanup removes the control socket of a dead host', async () => {
  const stale = mkdtempSync(join(tmpdir(), 'hvkit-ctl-stale-'));
  try {
    // A pid that cannot be alive (above pid_max) with a plausible start time.
    const dead = { pid: 2147483646, startTime: 12345n };
    const { d } = testDispatcher();
    const cs = await ControlSocket.listen(dead, d, { dir: stale });
    assert.deepEqual(findControlSockets(stale), [], 'a dead host’s socket is not offered to ctl');
    assert.deepEqual(removeStaleRegions(stale), [controlSocketName(dead)]);
    assert.equal(existsSync(cs.path), false);
    await cs.close();
  } finally {
    rmSync(stale, { recursive: true, force: true });
  }
});
