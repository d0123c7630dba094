/**
 * The answers of the host's stream socket stay readable whatever the input: a restore whose
 * stream holds a thousand optional records (about the most a reader accepts) is reported as the success it is (never "failed"
 * because the answer outgrew the client's line), and every answer line fits MAX_LINE.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { streamRequest } from '../../src/cli/commands/ctl-stream.ts';
import { insertRecordBeforeEnd } from '../../src/formats/stream/index.ts';
import { streamInstaller } from '../../src/host/migration/install.ts';
import { answerLine, streamSocketPath } from '../../src/host/migration/receiver.ts';
import { MAX_LINE } from '../../src/host/migration/wire.ts';
import { startHostServer } from '../../src/host/server.ts';
import { tempDir } from './helpers.ts';

/** `stream` with `count` optional records of distinct unknown types before its END record. */
function withOptionalRecords(stream: Uint8Array, count: number): Uint8Array {
  const endBytes = 24;
  const extras: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const one = insertRecordBeforeEnd(stream, 0x8000_1000 + i, new Uint8Array(8));
    extras.push(one.subarray(stream.length - endBytes, one.length - endBytes));
  }
  return Buffer.concat([
    stream.subarray(0, stream.length - endBytes),
    ...extras,
    stream.subarray(stream.length - endBytes),
  ]);
}

test('ctl restore of a stream with a thousand optional records: created, and reported as done', async () => {
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
    const file = join(tmp.dir, 'one.hvst');
    const saved = await streamRequest(path, `SAVE 1 0 ${file}`);
    assert.equal(saved.ok, true, saved.error);
    const many = join(tmp.dir, 'many.hvst');
    writeFileSync(many, withOptionalRecords(readFileSync(file), 1000));

    const answer = await streamRequest(path, `RESTORE 0 ${many}`);
    assert.equal(answer.ok, true, answer.error);
    assert.equal(server.host.list().length, 2, 'the domain was created');
    const result = answer.result as { domain: { domid: number }; notApplied: string[] };
    assert.equal(result.domain.domid, 2);
    assert.ok(result.notApplied.length <= 9, `bounded: ${result.notApplied.length} entries`);
    assert.match(result.notApplied.at(-1)!, /992 more unknown optional records of 992 other types/);
  } finally {
    await server.stop();
    tmp.remove();
    delete process.env.HVKIT_BACKEND;
  }
});

test('property: every stream answer line fits MAX_LINE, says ok first and keeps the outcome', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 3000 }),
    fc.integer(),
    fc.array(fc.string({ maxLength: 300 }), { maxLength: 500 }),
  );
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.dictionary(fc.string({ maxLength: 20 }), value, { maxKeys: 8 }),
      fc.string({ maxLength: 20000 }),
      (ok, result, error) => {
        const line = ok ? answerLine({ ok: true, result }) : answerLine({ ok: false, error });
        assert.ok(Buffer.byteLength(line) <= MAX_LINE, `${Buffer.byteLength(line)} bytes`);
        assert.equal(line.indexOf('\n'), line.length - 1);
        assert.ok(line.startsWith(`{"ok":${ok}`));
        assert.equal(JSON.parse(line).ok, ok);
      },
    ),
    { numRuns: 200 },
  );
});

test('a client that cannot read a whole answer still reports a success as a success', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'long.sock');
  const long = (ok: boolean) => `${JSON.stringify({ ok, result: { names: 'x'.repeat(3 * MAX_LINE) } })}\n`;
  let next = true;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {}); // the client hangs up without reading everything
    s.end(long(next));
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const done = await streamRequest(path, 'RESTORE 0 /x');
    assert.equal(done.ok, true);
    assert.equal(done.truncated, true);
    next = false;
    const failed = await streamRequest(path, 'RESTORE 0 /x');
    assert.equal(failed.ok, false);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    tmp.remove();
  }
});
