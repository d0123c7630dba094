/**
 * A real saved stream (a 2 MiB guest with 2 vCPUs, saved from a running domain) truncated at
 * EVERY length and with a byte flipped at EVERY offset is refused before anything is applied:
 * every variant fails verification, no domain is ever created, and restores from files leave no
 * file behind (every variant goes through the host's restore; every 16th also through a file).
 * A save that fails half-way leaves no file and the domain running. A stream missing its last
 * memory chunks (END right after them, every checksum right) is refused too. On the simulated
 * backend; the first test also runs on real KVM in corruption.kvm.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import { RECORD, verifyStream } from '../../src/formats/stream/index.ts';
import { restoreDomain, saveDomain } from '../../src/host/migration/save-restore.ts';
import { registerCorruptionTests } from './corruption.cases.ts';
import { TestHost, tempDir } from './helpers.ts';

registerCorruptionTests('sim');

test('sim: a save that fails half-way leaves no file and the domain running', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 2, workload: 'compute' });
    await h.rounds(dom.uniqueId, 1, 1);
    const file = join(tmp.dir, 'never.hvst');
    let calls = 0;
    await assert.rejects(
      saveDomain(h.host, dom.domid, file, {
        onWrite: () => {
          if (++calls === 1) throw new Error('disk full (injected)');
        },
      }),
      /disk full/,
    );
    assert.deepEqual(readdirSync(tmp.dir), []);
    assert.equal(h.host.domain(dom.domid)?.state, 'running');
    await assert.rejects(saveDomain(h.host, dom.domid, join(tmp.dir, 'no', 'such', 'dir.hvst')));
    assert.deepEqual(readdirSync(tmp.dir), []);
    assert.equal(h.host.domain(dom.domid)?.state, 'running');
  } finally {
    await h.stop();
    tmp.remove();
  }
});

/** The stream without its last `drop` memory records (nothing else changed: every checksum stays right). */
function withoutLastChunks(stream: Uint8Array, drop: number): Uint8Array {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const memory: Array<[number, number]> = [];
  for (let at = 32; at < stream.length; ) {
    const type = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    const end = at + 16 + length + ((8 - (length % 8)) % 8);
    if (type === RECORD.memoryPages) memory.push([at, end]);
    at = end;
  }
  const cut = memory.slice(memory.length - drop);
  return Buffer.concat([stream.subarray(0, cut[0]![0]), stream.subarray(cut[cut.length - 1]![1])]);
}

test('sim: a stream whose last memory chunks are missing is refused (memory missing-chunks), nothing applied', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ name: 'short', vcpus: 1, memoryMiB: 4, workload: 'compute' });
    await h.rounds(dom.uniqueId, 1, 1);
    const file = join(tmp.dir, 'good.hvst');
    await saveDomain(h.host, dom.domid, file);
    await h.host.destroy(dom.domid);
    const good = new Uint8Array(readFileSync(file));
    verifyStream(good);
    const created = h.events.filter((e) => e.kind === 'created').length;
    for (const drop of [1, 2, 3]) {
      const bad = withoutLastChunks(good, drop);
      assert.throws(
        () => verifyStream(bad),
        (e: unknown) => e instanceof FormatError && e.field === 'memory' && e.rule === 'missing-chunks',
        `${drop} chunks dropped`,
      );
      const path = join(tmp.dir, `short-${drop}.hvst`);
      writeFileSync(path, bad);
      await assert.rejects(restoreDomain(h.host, path), /missing-chunks/);
    }
    assert.equal(h.events.filter((e) => e.kind === 'created').length, created, 'no domain was created');
    assert.deepEqual(h.host.list(), []);
  } finally {
    await h.stop();
    tmp.remove();
  }
});
