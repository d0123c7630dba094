/**
 * Page pools in save/restore streams (src/host/pools/stream.ts): a domain's pools round-trip with
 * their ids, flags, pages and LRU order; hostile snapshot bytes (every truncation, bit flips,
 * lying counts) are refused with a FormatError and leave the domain without pools; and a real
 * save → restore through src/host/migration on a simulated host brings back the pages a guest put
 * through the dispatcher, under the pool ids the guest holds.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { CallContext } from '../../src/calls/dispatcher.ts';
import { FormatError } from '../../src/errors.ts';
import { FAMILY, POOL_CALL, STATUS } from '../../src/formats/callword/constants.ts';
import { OID_BYTES, oidToBytes, PAGE_BYTES, poolFlags } from '../../src/formats/callword/pool.ts';
import { callWord } from '../../src/formats/callword/word.ts';
import { insertRecordBeforeEnd, RECORD } from '../../src/formats/stream/index.ts';
import { createHostDispatcher } from '../../src/host/calls-host.ts';
import { readStreamFile, restoreDomain, saveDomain } from '../../src/host/migration/save-restore.ts';
import { fromVmmMemory } from '../../src/host/pools/guest-memory.ts';
import { poolCallInstaller } from '../../src/host/pools/host-binding.ts';
import { PoolError, PoolService, type SavedPool } from '../../src/host/pools/service.ts';
import {
  decodePoolSnapshot,
  encodePoolSnapshot,
  POOL_SNAPSHOT_FORMAT,
  poolStreamHooks,
} from '../../src/host/pools/stream.ts';
import { TestHost, tempDir } from '../stream/helpers.ts';
import { pageOf } from './helpers.ts';

const PAGE_RECORD = OID_BYTES + 4 + PAGE_BYTES;
const WIDE = (0xdead_beefn << 160n) | (0x77n << 96n) | 0x1234n;

/** Domain 1 of a fresh service: pools 1 (v0 persistent), 3 (v1 ephemeral), 4 (v1 persistent); pool 2 destroyed. */
function populated(service = new PoolService({ poolPages: 16, hostPages: 64 })) {
  service.attachDomain(1);
  const p1 = service.create(1, poolFlags(0, true));
  const p2 = service.create(1, poolFlags(1, true));
  const p3 = service.create(1, poolFlags(1, false));
  const p4 = service.create(1, poolFlags(1, true));
  service.destroy(1, p2);
  service.put(1, p1, 0x55n, 0, pageOf(1));
  service.put(1, p1, 0xffff_ffff_ffff_ffffn, 7, pageOf(2));
  service.put(1, p3, WIDE, 0xffff_ffff, pageOf(3));
  service.put(1, p3, 0x55n, 1, pageOf(4));
  service.put(1, p4, WIDE, 2, pageOf(5));
  // A get makes (0x55, 0) the most recently used page of pool 1: the LRU order is part of the state.
  service.get(1, p1, 0x55n, 0);
  return { service, ids: [p1, p3, p4] };
}

/** A snapshot of two pools with one page each: small enough to cut at every length. */
function small(): Uint8Array {
  const service = new PoolService();
  service.attachDomain(1);
  const a = service.create(1, poolFlags(0, true));
  const b = service.create(1, poolFlags(1, false));
  service.put(1, a, 0x0102_0304n, 9, pageOf(10));
  service.put(1, b, WIDE, 3, pageOf(11));
  return poolStreamHooks(service).snapshot(1)!;
}

/** A fresh service with domain 2 attached, and its hooks. */
function target() {
  const service = new PoolService({ poolPages: 16, hostPages: 64 });
  service.attachDomain(2);
  return { service, hooks: poolStreamHooks(service) };
}

/** Saved pools with their page views copied out (comparable, and safe from later changes). */
function copied(pools: SavedPool[]): SavedPool[] {
  return pools.map((p) => ({ ...p, pages: p.pages.map((x) => ({ ...x, data: Uint8Array.from(x.data) })) }));
}

function refused(fn: () => void, rule?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `a FormatError, not ${String(e)}`);
    if (rule !== undefined) assert.equal(e.rule, rule, e.message);
    return true;
  });
}

test('round trip: persistent and ephemeral pools, v0 and v1 ids, same pool ids, pages and LRU order', () => {
  const { service, ids } = populated();
  const hooks = poolStreamHooks(service);
  const bytes = hooks.snapshot(1)!;
  assert.equal(hooks.format, POOL_SNAPSHOT_FORMAT);
  assert.equal(bytes.length, 4 + 3 * 12 + 5 * PAGE_RECORD);

  const t = target();
  t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, bytes);
  assert.deepEqual(
    t.service.pools(2).map((p) => [p.poolId, p.version, p.persistent, p.pages]),
    [
      [ids[0], 0, true, 2],
      [ids[1], 1, false, 2],
      [ids[2], 1, true, 1],
    ],
  );
  assert.deepEqual(
    t.service.pools(2).map((p) => p.poolId),
    [1, 3, 4],
    'ids kept, gap included',
  );
  assert.deepEqual(t.service.keys(2, 1), service.keys(1, 1), 'LRU order kept');
  assert.deepEqual(t.service.snapshotPools(2), service.snapshotPools(1));
  assert.deepEqual(t.hooks.snapshot(2), bytes, 'the snapshot of the restored domain is the same bytes');
  assert.deepEqual(t.service.get(2, 3, WIDE, 0xffff_ffff), pageOf(3), 'ephemeral pages are kept');
  assert.equal(t.service.counters(2).pages_held, 5);
  assert.equal(t.service.counters(2).puts, 0, 'a restore is not guest puts');
  assert.equal(t.service.pagesHeld, 5);

  // New pools of the restored domain take the free ids; discard drops everything.
  assert.equal(t.service.create(2, poolFlags(0, false)), 2);
  t.hooks.discard(2);
  assert.deepEqual(t.service.pools(2), []);
  assert.equal(t.service.pagesHeld, 0);
});

test('a domain without pools has no snapshot; an empty pool is still saved', () => {
  const service = new PoolService();
  const hooks = poolStreamHooks(service);
  assert.equal(hooks.snapshot(9), undefined, 'unknown domain');
  service.attachDomain(9);
  assert.equal(hooks.snapshot(9), undefined, 'no pools');
  service.create(9, poolFlags(1, true));
  const bytes = hooks.snapshot(9)!;
  assert.deepEqual(decodePoolSnapshot(bytes), [{ poolId: 1, flags: poolFlags(1, true), pages: [] }]);
});

test('every truncation of a small snapshot is refused and creates no pool', () => {
  const bytes = small();
  assert.equal(bytes.length, 4 + 2 * 12 + 2 * PAGE_RECORD);
  const t = target();
  for (let n = 0; n < bytes.length; n++) {
    refused(() => t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, bytes.subarray(0, n)));
    assert.deepEqual(t.service.pools(2), [], `cut at ${n}`);
  }
  assert.equal(t.service.pagesHeld, 0);
  t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, bytes);
  assert.equal(t.service.pagesHeld, 2);
});

/**
 * A restore either refuses the bytes (FormatError, no pool created) or accepts them, and then the
 * restored domain's snapshot is exactly those bytes (the encoding is canonical).
 */
function refusedOrExact(t: ReturnType<typeof target>, bytes: Uint8Array): 'refused' | 'accepted' {
  try {
    t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, bytes);
  } catch (e) {
    assert.ok(e instanceof FormatError, `a FormatError, not ${String(e)}`);
    assert.deepEqual(t.service.pools(2), []);
    assert.equal(t.service.pagesHeld, 0);
    return 'refused';
  }
  assert.deepEqual(t.hooks.snapshot(2), bytes);
  t.hooks.discard(2);
  return 'accepted';
}

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

test('bit flips in every header and key byte: refused without pools, or accepted exactly', () => {
  const bytes = small();
  const t = target();
  // Structure bytes: pool_count, both pool heads, both page keys (oid + index).
  const head0 = 4;
  const page0 = head0 + 12;
  const head1 = page0 + PAGE_RECORD;
  const page1 = head1 + 12;
  const ranges = [
    [0, page0 + OID_BYTES + 4],
    [head1, page1 + OID_BYTES + 4],
  ] as const;
  const outcomes = { refused: 0, accepted: 0 };
  for (const [from, to] of ranges) {
    for (let bit = from * 8; bit < to * 8; bit++) outcomes[refusedOrExact(t, flipped(bytes, bit))]++;
  }
  // Every flip in a count is refused; flips of the persistent bit, of an id or of a key are valid snapshots.
  for (let bit = 0; bit < 32; bit++) assert.equal(refusedOrExact(t, flipped(bytes, bit)), 'refused');
  for (let bit = 0; bit < 32; bit++) {
    assert.equal(refusedOrExact(t, flipped(bytes, (head0 + 8) * 8 + bit)), 'refused', `pool 0 page_count bit ${bit}`);
  }
  assert.ok(outcomes.refused > 0 && outcomes.accepted > 0, JSON.stringify(outcomes));
});

test('random bit flips and byte overwrites anywhere: refused without pools, or accepted exactly', () => {
  const bytes = small();
  const t = target();
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), (edits) => {
      const b = Uint8Array.from(bytes);
      for (const [at, v] of edits) b[at] = v;
      refusedOrExact(t, b);
    }),
    { numRuns: 300 },
  );
});

test('hostile snapshots are refused with the field and rule named', () => {
  const bytes = small();
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const edit = (fn: (v: DataView, b: Uint8Array) => void) => {
    const b = Uint8Array.from(bytes);
    fn(view(b), b);
    return b;
  };
  const t = target();
  const cases: Array<[string, Uint8Array, string]> = [
    ['pool_count', edit((v) => v.setUint32(0, 0xffff_ffff, true)), 'too-many-pools'],
    ['pool_count', edit((v) => v.setUint32(0, 4000, true)), 'count-exceeds-data'],
    ['pool[0].page_count', edit((v) => v.setUint32(12, 0xffff_ffff, true)), 'count-exceeds-data'],
    ['pool[0].pool_id', edit((v) => v.setUint32(4, 0, true)), 'pool-id-range'],
    ['pool[0].pool_id', edit((v) => v.setUint32(4, 4096, true)), 'pool-id-range'],
    ['pool[1].pool_id', edit((v) => v.setUint32(16 + PAGE_RECORD, 1, true)), 'pool-id-order'],
    ['pool[0].flags', edit((v) => v.setUint32(8, poolFlags(0, true) | 0x100, true)), 'reserved-bits'],
    ['pool[0].flags', edit((v) => v.setUint32(8, poolFlags(2, true), true)), 'unknown-version'],
    // Pool 0 is v0: an id with a bit above 64 cannot be its.
    [
      'pool[0].page[0].oid',
      edit((_, b) => {
        b[16 + 8] = 1;
      }),
      'oid-range',
    ],
    ['end', Uint8Array.from([...bytes, 0]), 'trailing-bytes'],
  ];
  for (const [field, b, rule] of cases) {
    assert.throws(
      () => t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, b),
      (e: unknown) => e instanceof FormatError && e.field === field && e.rule === rule,
      `${field} ${rule}`,
    );
    assert.deepEqual(t.service.pools(2), []);
  }
  // The same page twice in one pool.
  const dup = encodePoolSnapshot([
    {
      poolId: 1,
      flags: poolFlags(1, true),
      pages: [
        { oid: WIDE, index: 1, data: pageOf(1) },
        { oid: WIDE, index: 1, data: pageOf(2) },
      ],
    },
  ]);
  refused(() => t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, dup), 'duplicate-page');
  refused(() => t.hooks.restore(2, POOL_SNAPSHOT_FORMAT + 1, bytes), 'unknown-format');
  assert.deepEqual(t.service.pools(2), []);
});

test('a snapshot that does not fit the host is refused whole: no pool is created', () => {
  const { service } = populated();
  const bytes = poolStreamHooks(service).snapshot(1)!;
  for (const limits of [{ poolPages: 1 }, { hostPages: 4 }, { poolsPerDomain: 2 }]) {
    const small = new PoolService(limits);
    small.attachDomain(2);
    assert.throws(
      () => poolStreamHooks(small).restore(2, POOL_SNAPSHOT_FORMAT, bytes),
      (e: unknown) => e instanceof PoolError && e.status === STATUS.noResources,
      JSON.stringify(limits),
    );
    assert.deepEqual(small.pools(2), []);
    assert.equal(small.pagesHeld, 0);
  }
  // A domain the service does not know, and one that already has pools, are refused too.
  const t = target();
  assert.throws(() => t.hooks.restore(7, POOL_SNAPSHOT_FORMAT, bytes));
  t.service.create(2, poolFlags(0, true));
  assert.throws(() => t.hooks.restore(2, POOL_SNAPSHOT_FORMAT, bytes), PoolError);
  assert.deepEqual(
    t.service.pools(2).map((p) => p.poolId),
    [1],
  );
});

test('sim host: pool pages a guest put through the dispatcher survive save → restore', async () => {
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
  const guest = (domid: number): CallContext => ({ caller: { kind: 'guest', domid, vcpu: 0 } });
  const call = async (domid: number, n: number, args: bigint[]) => {
    const r = await calls.dispatcher.dispatch(callWord(FAMILY.pool, n), args, guest(domid));
    assert.equal(r.status, STATUS.ok, `pool call ${n}`);
    return r.values;
  };
  // Far above the guest program and its stacks: the pages and the v1 id the test writes.
  const DATA = 0x10_0000;
  const OID_AT = 0x1f_f000;
  try {
    const dom = await h.host.createDomain({
      name: 'pooled',
      vcpus: 1,
      memoryMiB: 2,
      workload: 'compute',
      paused: true,
    });
    const memory = fromVmmMemory(h.host.guestMemory(dom.domid)!);
    const [v0] = await call(dom.domid, POOL_CALL.create, [BigInt(poolFlags(0, true))]);
    const [v1] = await call(dom.domid, POOL_CALL.create, [BigInt(poolFlags(1, false))]);
    for (let i = 0; i < 3; i++) {
      memory.write(BigInt(DATA + i * PAGE_BYTES), pageOf(20 + i));
      await call(dom.domid, POOL_CALL.put, [BigInt((DATA + i * PAGE_BYTES) | Number(v0)), BigInt(i), 0x99n, 0n]);
    }
    memory.write(BigInt(OID_AT), oidToBytes(WIDE));
    await call(dom.domid, POOL_CALL.put, [BigInt(DATA | Number(v1)), 5n, BigInt(OID_AT)]);
    const before = copied(service.snapshotPools(dom.domid));
    assert.equal(before.flatMap((p) => p.pages).length, 4);

    const file = join(tmp.dir, 'pooled.hvst');
    await saveDomain(h.host, dom.domid, file, { pools: hooks });
    assert.equal(
      (await readStreamFile(file)).pools?.version,
      POOL_SNAPSHOT_FORMAT,
      'the stream carries a POOLS record',
    );
    await h.host.destroy(dom.domid);
    assert.equal(service.hasDomain(dom.domid), false);

    const restored = await restoreDomain(h.host, file, { pools: hooks, paused: true });
    const domid = restored.domain.domid;
    assert.deepEqual(restored.notApplied, []);
    assert.deepEqual(copied(service.snapshotPools(domid)), before, 'same pool ids, flags, pages and order');
    // The guest's saved handles still work: a get through the dispatcher into the new domain's memory.
    const newMemory = fromVmmMemory(h.host.guestMemory(domid)!);
    const GET_AT = 0x18_0000;
    assert.deepEqual(await call(domid, POOL_CALL.get, [BigInt(GET_AT | Number(v0)), 2n, 0x99n, 0n]), [1n]);
    assert.deepEqual(newMemory.read(BigInt(GET_AT), PAGE_BYTES), pageOf(22));
    assert.deepEqual(await call(domid, POOL_CALL.get, [BigInt(GET_AT | Number(v1)), 5n, BigInt(OID_AT)]), [1n]);
    assert.deepEqual(newMemory.read(BigInt(GET_AT), PAGE_BYTES), pageOf(20));

    // Without the hooks the POOLS record is reported as not applied.
    const plain = await restoreDomain(h.host, file, { paused: true });
    assert.deepEqual(plain.notApplied, ['pools (no pool service)']);
    assert.deepEqual(service.pools(plain.domain.domid), []);
  } finally {
    await calls.close();
    await h.stop();
    tmp.remove();
  }
});

test('sim host: a stream whose POOLS record holds a malformed snapshot is refused before any domain exists', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const service = new PoolService();
  const hooks = poolStreamHooks(service);
  const calls = createHostDispatcher(h.host, [poolCallInstaller(service, { memoryOf: () => undefined })]);
  const shm = () => readdirSync('/dev/shm').filter((n) => n.startsWith(`hvkit.${process.pid}.`) && !n.endsWith('.ctl'));
  try {
    const dom = await h.host.createDomain({ name: 'plain', vcpus: 1, memoryMiB: 2, workload: 'compute' });
    const good = join(tmp.dir, 'plain.hvst');
    await saveDomain(h.host, dom.domid, good);
    await h.host.destroy(dom.domid);
    // pool_count 3 and nothing more: the record's framing and checksum are right, its snapshot is not.
    const snapshot = Uint8Array.from([3, 0, 0, 0]);
    const body = new Uint8Array(8 + snapshot.length);
    new DataView(body.buffer).setUint32(0, POOL_SNAPSHOT_FORMAT, true);
    new DataView(body.buffer).setUint32(4, snapshot.length, true);
    body.set(snapshot, 8);
    const bad = join(tmp.dir, 'bad-pools.hvst');
    writeFileSync(bad, insertRecordBeforeEnd(new Uint8Array(readFileSync(good)), RECORD.pools, body));
    assert.equal((await readStreamFile(bad)).pools?.data.length, 4, 'the stream itself verifies');

    const events = h.events.length;
    const files = shm();
    await assert.rejects(restoreDomain(h.host, bad, { pools: hooks }), (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.equal(e.format, 'pool-snapshot');
      assert.equal(e.rule, 'count-exceeds-data');
      return true;
    });
    assert.deepEqual(h.events.slice(events), [], 'no lifecycle event');
    assert.deepEqual(h.host.list(), [], 'no domain');
    assert.deepEqual(shm(), files, 'no /dev/shm file');
    assert.deepEqual(service.domids(), []);
  } finally {
    await calls.close();
    await h.stop();
    tmp.remove();
  }
});
