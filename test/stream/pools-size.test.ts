/**
 * Pool snapshots larger than one record: the writer cuts them into consecutive POOLS records (each
 * body within MAX_RECORD_BODY) and the reader joins them back, checking that they follow each
 * other, share a format and stay within the pool-bytes bound; a sim domain holding 300+ pool pages
 * survives save → restore with every page. Any other record too long to read is refused by the
 * writer before a file is renamed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import { STATUS } from '../../src/formats/callword/constants.ts';
import { poolFlags } from '../../src/formats/callword/pool.ts';
import { newestStreamVersion, streamConstant, streamRevision } from '../../src/formats/stream/abi.ts';
import {
  encodeStream,
  insertRecordBeforeEnd,
  RECORD,
  streamPieces,
  verifyStream,
} from '../../src/formats/stream/index.ts';
import { createHostDispatcher } from '../../src/host/calls-host.ts';
import {
  readStreamFile,
  restoreDomain,
  saveDomain,
  writeFileAtomically,
} from '../../src/host/migration/save-restore.ts';
import { fromVmmMemory } from '../../src/host/pools/guest-memory.ts';
import { poolCallInstaller } from '../../src/host/pools/host-binding.ts';
import { PoolService, type SavedPool } from '../../src/host/pools/service.ts';
import { POOL_SNAPSHOT_FORMAT, poolStreamHooks } from '../../src/host/pools/stream.ts';
import { pageOf } from '../pools/helpers.ts';
import { TestHost, tempDir } from './helpers.ts';
import { sampleImage } from './image-fixtures.ts';

const MIB = 1 << 20;
const MAX_RECORD_BODY = Number(streamConstant(streamRevision(newestStreamVersion()), 'MAX_RECORD_BODY'));

/** [type, body length] of every record of a stream (the header is 32 bytes, records 16 + body + padding). */
function records(stream: Uint8Array): Array<[number, number]> {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const out: Array<[number, number]> = [];
  for (let at = 32; at < stream.length; ) {
    const length = view.getUint32(at + 4, true);
    out.push([view.getUint32(at, true), length]);
    at += 16 + length + ((8 - (length % 8)) % 8);
  }
  return out;
}

/** Bytes that differ from one offset to the next, so a piece out of place would show. */
function patterned(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >>> 12)) & 0xff;
  return out;
}

function refused(fn: () => unknown, rule: string): void {
  assert.throws(fn, (e: unknown) => e instanceof FormatError && e.rule === rule, rule);
}

test('a 2.5 MiB pool snapshot is written as three POOLS records within MAX_RECORD_BODY and read back whole', () => {
  const data = patterned(2.5 * MIB);
  for (const version of [1, 2]) {
    const stream = encodeStream({ ...sampleImage(), pools: { version: 9, data } }, { version });
    const pools = records(stream).filter(([type]) => type === RECORD.pools);
    assert.equal(pools.length, 3, `version ${version}`);
    for (const [, length] of pools) assert.ok(length <= MAX_RECORD_BODY, `body ${length}`);
    const read = verifyStream(stream);
    assert.equal(read.pools?.version, 9);
    assert.ok(Buffer.from(read.pools!.data).equals(data), 'pieces joined in order');
  }
});

test('POOLS records must be consecutive, share one format and stay within the pool-bytes bound', () => {
  const { stats: _, ...noStats } = sampleImage();
  const small = encodeStream({ ...noStats, pools: { version: 1, data: new Uint8Array(16) } });
  const blobHead = (format: number, size: number) => {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, format, true);
    new DataView(head.buffer).setUint32(4, size, true);
    return head;
  };
  // A second piece right after the first: joined; with another format: refused.
  const next = insertRecordBeforeEnd(small, RECORD.pools, Buffer.concat([blobHead(1, 8), new Uint8Array(8).fill(5)]));
  assert.equal(verifyStream(next).pools?.data.length, 24);
  refused(() => verifyStream(insertRecordBeforeEnd(small, RECORD.pools, blobHead(2, 0))), 'pools-format-mismatch');
  // A POOLS record after another record (STATS) once pools were read: refused.
  const withStats = encodeStream({ ...sampleImage(), pools: { version: 1, data: new Uint8Array(16) } });
  refused(() => verifyStream(insertRecordBeforeEnd(withStats, RECORD.pools, blobHead(1, 0))), 'pools-not-consecutive');
  // The bound is checked at each header, before the body is held.
  const big = encodeStream({ ...noStats, pools: { version: 1, data: patterned(1.5 * MIB) } });
  assert.equal(verifyStream(big, { maxPoolBytes: 1.5 * MIB }).pools?.data.length, 1.5 * MIB);
  refused(() => verifyStream(big, { maxPoolBytes: 1.5 * MIB - 1 }), 'pools-too-large');
  refused(() => verifyStream(big, { maxPoolBytes: 4096 }), 'pools-too-large');
  // The value named is the offending size (what the snapshot would reach), never the limit.
  assert.throws(
    () => verifyStream(big, { maxPoolBytes: 1.5 * MIB - 1 }),
    (e: unknown) => e instanceof FormatError && e.value === String(1.5 * MIB),
  );
});

test('a record the reader would refuse is never written, and never renamed over a good file', () => {
  const image = { ...sampleImage(), stats: { version: 6, data: new Uint8Array(MAX_RECORD_BODY) } };
  refused(() => encodeStream(image), 'too-long');
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'kept.hvst');
    const good = encodeStream(sampleImage());
    writeFileSync(file, good);
    refused(() => writeFileAtomically(file, streamPieces(image), { force: true }), 'too-long');
    assert.deepEqual(readdirSync(tmp.dir), ['kept.hvst'], 'no temporary file left');
    assert.ok(readFileSync(file).equals(good), 'the previous stream is untouched');
  } finally {
    tmp.remove();
  }
});

test('sim host: a domain holding 320 pool pages survives save → restore with every page', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const service = new PoolService();
  const hooks = poolStreamHooks(service);
  const calls = createHostDispatcher(h.host, [
    poolCallInstaller(service, {
      memoryOf: (domain, host) => {
        const memory = host.guestMemory(domain.domid);
        return memory ? fromVmmMemory(memory) : undefined;
      },
    }),
  ]);
  try {
    const dom = await h.host.createDomain({ name: 'big-pools', vcpus: 1, memoryMiB: 2, workload: 'compute' });
    const persistent = service.create(dom.domid, poolFlags(1, true));
    const v0 = service.create(dom.domid, poolFlags(0, true));
    for (let i = 0; i < 300; i++) service.put(dom.domid, persistent, BigInt(1000 + (i >> 3)), i & 7, pageOf(i));
    for (let i = 0; i < 20; i++) service.put(dom.domid, v0, 7n, i, pageOf(500 + i));
    const copied = (pools: SavedPool[]) =>
      pools.map((p) => ({ ...p, pages: p.pages.map((x) => ({ ...x, data: Uint8Array.from(x.data) })) }));
    const before = copied(service.snapshotPools(dom.domid));
    assert.equal(before.flatMap((p) => p.pages).length, 320);

    const file = join(tmp.dir, 'big-pools.hvst');
    await saveDomain(h.host, dom.domid, file, { pools: hooks });
    const pieces = records(new Uint8Array(readFileSync(file))).filter(([type]) => type === RECORD.pools);
    assert.equal(pieces.length, 2, 'the snapshot (over 1 MiB) spans two POOLS records');
    assert.equal((await readStreamFile(file)).pools?.version, POOL_SNAPSHOT_FORMAT);
    await h.host.destroy(dom.domid);

    const restored = await restoreDomain(h.host, file, { pools: hooks, paused: true });
    assert.deepEqual(restored.notApplied, []);
    assert.deepEqual(copied(service.snapshotPools(restored.domain.domid)), before, 'every page back, in order');
    assert.equal(service.pagesHeld, 320);
    assert.deepEqual(service.get(restored.domain.domid, persistent, 1037n, 3), pageOf(299));
  } finally {
    await calls.close();
    await h.stop();
    tmp.remove();
  }
});

test('a restore whose pool snapshot does not fit the host is refused before the domain exists', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const service = new PoolService({ hostPages: 8 });
  const calls = createHostDispatcher(h.host, [poolCallInstaller(service, { memoryOf: () => undefined })]);
  try {
    const bigger = new PoolService();
    bigger.attachDomain(1);
    const pool = bigger.create(1, poolFlags(1, true));
    for (let i = 0; i < 9; i++) bigger.put(1, pool, 1n, i, pageOf(i));
    const stream = encodeStream({
      ...sampleImage({ vcpus: 1 }),
      pools: { version: POOL_SNAPSHOT_FORMAT, data: poolStreamHooks(bigger).snapshot(1)! },
    });
    const file = join(tmp.dir, 'too-many-pages.hvst');
    writeFileSync(file, stream);
    await assert.rejects(
      restoreDomain(h.host, file, { pools: poolStreamHooks(service) }),
      (e: unknown) => (e as { status?: number }).status === STATUS.noResources,
    );
    assert.deepEqual(h.events, [], 'no lifecycle event');
    assert.deepEqual(h.host.list(), []);
  } finally {
    await calls.close();
    await h.stop();
    tmp.remove();
  }
});
