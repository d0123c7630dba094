import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type CallContext, Dispatcher } from '../../src/calls/dispatcher.ts';
import { FAMILY, POOL_CALL, STATUS } from '../../src/formats/callword/constants.ts';
import {
  OID_BYTES,
  oidToBytes,
  oidToWords,
  PAGE_BYTES,
  POOL_COUNTERS,
  type PoolVersion,
  poolFlags,
} from '../../src/formats/callword/pool.ts';
import { callWord } from '../../src/formats/callword/word.ts';
import { shippedStatsTableAbi, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { createHostDispatcher } from '../../src/host/calls-host.ts';
import { Host } from '../../src/host/host.ts';
import { registerPoolCalls } from '../../src/host/pools/calls.ts';
import { ArrayGuestMemory, type GuestMemoryAccess } from '../../src/host/pools/guest-memory.ts';
import { poolCallInstaller } from '../../src/host/pools/host-binding.ts';
import { PoolService } from '../../src/host/pools/service.ts';
import { bytesRegion } from '../../src/shm/region.ts';
import { openShmRegion } from '../../src/shm/shm-file.ts';
import { simBackend } from '../host/sim-backend.ts';
import { pageOf } from './helpers.ts';

const W = (call: number, annotation = 0) => callWord(FAMILY.pool, call, annotation);
const guestOf = (domid: number): CallContext => ({ caller: { kind: 'guest', domid, vcpu: 0 } });
const TOOL: CallContext = { caller: { kind: 'tool' } };

/** Where the test guests keep a v1 object id (8-byte aligned, in the last page of their memory). */
const OID_GPA = 0x3_f000;

/**
 * A guest of pool ABI `version`, making its calls as 32-bit register words: v0 passes its two id
 * words in registers, v1 writes its id to OID_GPA and passes that address.
 */
class PoolGuest {
  constructor(
    readonly d: Dispatcher,
    readonly domid: number,
    readonly version: PoolVersion,
    readonly memory: ArrayGuestMemory,
  ) {}
  call(call: number, args: bigint[], annotation = 0) {
    return this.d.dispatch(W(call, annotation), args, guestOf(this.domid));
  }
  async create(persistent: boolean): Promise<number> {
    const r = await this.call(POOL_CALL.create, [BigInt(poolFlags(this.version, persistent))]);
    assert.equal(r.status, STATUS.ok);
    return Number(r.values[0]);
  }
  oidArgs(oid: bigint): bigint[] {
    if (this.version === 0) return oidToWords(oid, 2);
    this.memory.write(BigInt(OID_GPA), oidToBytes(oid));
    return [BigInt(OID_GPA)];
  }
  keyArgs(index: number, oid: bigint) {
    return [BigInt(index), ...this.oidArgs(oid)];
  }
  put(pool: number, oid: bigint, index: number, gpa: number, annotation = 0) {
    return this.call(POOL_CALL.put, [BigInt(gpa | pool), ...this.keyArgs(index, oid)], annotation);
  }
  get(pool: number, oid: bigint, index: number, gpa: number) {
    return this.call(POOL_CALL.get, [BigInt(gpa | pool), ...this.keyArgs(index, oid)]);
  }
  flushPage(pool: number, oid: bigint, index: number) {
    return this.call(POOL_CALL.flushPage, [BigInt(pool), ...this.keyArgs(index, oid)]);
  }
  flushObject(pool: number, oid: bigint) {
    return this.call(POOL_CALL.flushObject, [BigInt(pool), ...this.oidArgs(oid)]);
  }
}

function setup() {
  const service = new PoolService({ poolPages: 16, hostPages: 64 });
  const d = new Dispatcher();
  registerPoolCalls(d, service);
  const m0 = new ArrayGuestMemory(64 * PAGE_BYTES);
  const m1 = new ArrayGuestMemory(64 * PAGE_BYTES);
  service.attachDomain(1, { memory: m0 });
  service.attachDomain(2, { memory: m1 });
  return { service, d, v0: new PoolGuest(d, 1, 0, m0), v1: new PoolGuest(d, 2, 1, m1) };
}

test('a v0 guest and a v1 guest use the one service at the same time through the dispatcher', async () => {
  const { d, v0, v1 } = setup();
  const [p0, p1] = await Promise.all([v0.create(true), v1.create(true)]);
  const wide = (0xaaaa_bbbbn << 160n) | (0x1234n << 64n) | 0x55n;
  v0.memory.write(0x1000n, pageOf(1));
  v1.memory.write(0x1000n, pageOf(2));
  const puts = await Promise.all([
    v0.put(p0, 0x55n, 0, 0x1000),
    v1.put(p1, wide, 0, 0x1000, 1 /* may be queued: ignored or honoured, same effect */),
    v1.put(p1, 0x55n, 0, 0x1000),
  ]);
  assert.deepEqual(
    puts.map((r) => r.status),
    [0, 0, 0],
  );
  const g0 = await v0.get(p0, 0x55n, 0, 0x3000);
  assert.deepEqual(g0.values, [1n]);
  assert.deepEqual(v0.memory.read(0x3000n, PAGE_BYTES), pageOf(1));
  assert.deepEqual((await v1.get(p1, wide, 0, 0x3000)).values, [1n]);
  assert.deepEqual(v1.memory.read(0x3000n, PAGE_BYTES), pageOf(2));
  assert.deepEqual((await v1.get(p1, 0x56n, 0, 0x3000)).values, [0n], 'a miss');
  // v1's flush of (0x55, 0, 0) removes only that object, not the wide one sharing its low words.
  assert.deepEqual((await v1.flushObject(p1, 0x55n)).values, [1n]);
  assert.deepEqual((await v1.get(p1, wide, 0, 0x3000)).values, [1n]);
  assert.deepEqual((await v0.flushPage(p0, 0x55n, 0)).values, [1n]);
  assert.deepEqual((await v0.get(p0, 0x55n, 0, 0x3000)).values, [0n]);
  // Each domain sees only its own pools.
  assert.equal((await v0.get(p1 === p0 ? p0 + 1 : p1, 0x55n, 0, 0x3000)).status, STATUS.badArgument);
  const features = d.features();
  assert.equal(features.query(W(POOL_CALL.put))?.annotations, 1, 'put is queueable');
  assert.equal(features.query(W(POOL_CALL.get))?.annotations, 0, 'get is not');
});

test('v1 ids travel by reference: all 192 bits key the page, words 3..5 alone keep objects apart', async () => {
  const { v1 } = setup();
  const p = await v1.create(true);
  const low = (0xa5a5n << 64n) | (0x2000n << 32n) | 0x1000n; // words 0..2
  const ids = [low, low | (1n << 96n), low | (1n << 128n), low | (1n << 160n), low | (0xffff_ffffn << 160n)];
  for (const [i, id] of ids.entries()) {
    v1.memory.write(0x1000n, pageOf(100 + i));
    assert.equal((await v1.put(p, id, 0, 0x1000)).status, STATUS.ok);
  }
  for (const [i, id] of ids.entries()) {
    assert.deepEqual((await v1.get(p, id, 0, 0x3000)).values, [1n], `object ${i}`);
    assert.deepEqual(v1.memory.read(0x3000n, PAGE_BYTES), pageOf(100 + i), `object ${i} kept its own page`);
  }
  // The bytes the host reads are the guest's: written by hand here, six little-endian u32 words.
  const raw = new Uint8Array(OID_BYTES);
  const view = new DataView(raw.buffer);
  for (const [k, w] of [0x1000, 0x2000, 0xa5a5, 0, 0, 0xffff_ffff].entries()) view.setUint32(4 * k, w, true);
  v1.memory.write(0x2008n, raw);
  const byHand = await v1.call(POOL_CALL.get, [BigInt(0x3000 | p), 0n, 0x2008n]);
  assert.deepEqual(byHand.values, [1n]);
  assert.deepEqual(v1.memory.read(0x3000n, PAGE_BYTES), pageOf(104));
  assert.deepEqual((await v1.flushPage(p, ids[1]!, 0)).values, [1n]);
  assert.deepEqual((await v1.flushObject(p, ids[2]!)).values, [1n]);
  assert.deepEqual((await v1.flushObject(p, low)).values, [1n], 'only the object whose upper words are zero');
  assert.deepEqual((await v1.get(p, ids[3]!, 0, 0x3000)).values, [1n]);
});

test('v1 hostile oid addresses and layouts are bad_argument and change nothing', async () => {
  const { d, service, v1 } = setup();
  const p = await v1.create(true);
  v1.memory.write(0x1000n, pageOf(1));
  assert.equal((await v1.put(p, 5n, 0, 0x1000)).status, STATUS.ok);
  const size = BigInt(v1.memory.bytes.length);
  const hostile = [0x2001n, 0x2004n, size - 16n, size - 8n, size, 0xffff_fff8n, 1n << 32n, 1n << 40n];
  const call = (c: number, args: bigint[]) => d.dispatch(W(c), args, guestOf(2));
  const before = service.counters(2);
  for (const gpa of hostile) {
    const what = `oid_gpa 0x${gpa.toString(16)}`;
    assert.equal((await call(POOL_CALL.put, [BigInt(0x1000 | p), 0n, gpa])).status, STATUS.badArgument, what);
    assert.equal((await call(POOL_CALL.get, [BigInt(0x3000 | p), 0n, gpa])).status, STATUS.badArgument, what);
    assert.equal((await call(POOL_CALL.flushPage, [BigInt(p), 0n, gpa])).status, STATUS.badArgument, what);
    assert.equal((await call(POOL_CALL.flushObject, [BigInt(p), gpa])).status, STATUS.badArgument, what);
  }
  // The old register layout (id words after oid_gpa) is refused, not misread.
  v1.memory.write(0x2000n, oidToBytes(5n));
  assert.equal((await call(POOL_CALL.get, [BigInt(0x3000 | p), 0n, 0x2000n, 1n])).status, STATUS.badArgument);
  assert.equal((await call(POOL_CALL.get, [BigInt(0x3000 | p), 0n, 0x2000n, 0n, 1n])).status, STATUS.badArgument);
  assert.equal((await call(POOL_CALL.flushObject, [BigInt(p), 0x2000n, 0n, 7n])).status, STATUS.badArgument);
  assert.deepEqual(service.counters(2), before, 'no refused call counted a put, get or flush');
  assert.equal(service.pools(2)[0]!.pages, 1);
  assert.deepEqual((await call(POOL_CALL.get, [BigInt(0x3000 | p), 0n, 0x2000n])).values, [1n]);
  assert.deepEqual(v1.memory.read(0x3000n, PAGE_BYTES), pageOf(1));
  // v0 keeps its words in registers: a v0 call is never read as an address.
  const { v0 } = setup();
  const q = await v0.create(true);
  v0.memory.write(0x1000n, pageOf(2));
  assert.equal((await v0.put(q, 0x2001n, 0, 0x1000)).status, STATUS.ok);
  assert.deepEqual((await v0.get(q, 0x2001n, 0, 0x3000)).values, [1n]);
});

test('a put reads the v1 id once, before the page; a racing rewrite of the id does not move the page', async () => {
  const backing = new ArrayGuestMemory(64 * PAGE_BYTES);
  const reads: Array<[bigint, number]> = [];
  const racing: GuestMemoryAccess = {
    read(gpa, length) {
      reads.push([gpa, length]);
      const out = backing.read(gpa, length);
      if (gpa === BigInt(OID_GPA)) backing.write(gpa, oidToBytes(1n << 191n));
      return out;
    },
    write: (gpa, data) => backing.write(gpa, data),
  };
  const service = new PoolService();
  const d = new Dispatcher();
  registerPoolCalls(d, service);
  service.attachDomain(5, { memory: racing });
  const g = new PoolGuest(d, 5, 1, backing);
  const p = await g.create(true);
  const id = (3n << 130n) | 9n;
  backing.write(0x1000n, pageOf(3));
  assert.equal((await g.put(p, id, 2, 0x1000)).status, STATUS.ok);
  assert.deepEqual(reads, [
    [BigInt(OID_GPA), OID_BYTES],
    [0x1000n, PAGE_BYTES],
  ]);
  assert.deepEqual(
    service.keys(5, p).map((k) => k.oid),
    [id],
  );
});

test('defined errors: reserved flag bits, unknown version (pools off), wide words, tools vs guests', async () => {
  const { d, v0 } = setup();
  const create = (flags: bigint) => d.dispatch(W(POOL_CALL.create), [flags], guestOf(1));
  assert.equal((await create(0x100n)).status, STATUS.badArgument);
  assert.equal((await create(BigInt(poolFlags(2, false)))).status, STATUS.notSupported);
  assert.deepEqual((await create(BigInt(poolFlags(2, false)))).values, []);
  // A guest that ignores the failure and uses pool 0 or 1 keeps getting a clean error.
  for (const pool of [0, 1]) {
    assert.equal((await v0.put(pool, 1n, 0, 0x1000)).status, STATUS.badArgument);
    assert.equal((await v0.get(pool, 1n, 0, 0x1000)).status, STATUS.badArgument);
  }
  const p = await v0.create(false);
  assert.equal((await d.dispatch(W(POOL_CALL.put), [BigInt(p), 1n, 1n << 32n], guestOf(1))).status, STATUS.badArgument);
  assert.equal(
    (await d.dispatch(W(POOL_CALL.flushPage), [0x1000n | BigInt(p)], guestOf(1))).status,
    STATUS.badArgument,
  );
  assert.equal((await d.dispatch(W(POOL_CALL.create), [0n], TOOL)).status, STATUS.notPermitted);
  assert.equal((await d.dispatch(W(POOL_CALL.stats), [1n], guestOf(1))).status, STATUS.notPermitted);
  assert.equal((await d.dispatch(W(POOL_CALL.create), [0n], guestOf(9))).status, STATUS.noSuchDomain);
  assert.equal((await d.dispatch(W(0x20), [], guestOf(1))).status, STATUS.unknownCall);
});

test('tool side: stats and pool_info', async () => {
  const { d, v0, v1 } = setup();
  const p = await v0.create(false);
  await v1.create(true);
  await v0.put(p, 3n, 0, 0);
  await v0.get(p, 3n, 0, 0x1000);
  await v0.get(p, 4n, 0, 0x1000);
  const stats = await d.dispatch(W(POOL_CALL.stats), [1n], TOOL);
  assert.equal(stats.status, STATUS.ok);
  assert.deepEqual(stats.values, [1n, 2n, 1n, 1n, 0n, 1n, 0n, 0n, 1n]);
  const host = await d.dispatch(W(POOL_CALL.stats), [0n], TOOL);
  assert.equal(host.values[POOL_COUNTERS.indexOf('pages_held')], 1n);
  assert.equal(host.values[8], 2n, 'two domains');
  const info = await d.dispatch(W(POOL_CALL.poolInfo), [2n, 0n], TOOL);
  assert.deepEqual(info.values.slice(0, 3), [1n, BigInt(poolFlags(1, true)), 0n]);
  assert.equal((await d.dispatch(W(POOL_CALL.poolInfo), [2n, 1n], TOOL)).status, STATUS.badArgument);
  assert.equal((await d.dispatch(W(POOL_CALL.stats), [7n], TOOL)).status, STATUS.noSuchDomain);
});

test('a host with pools: counters in the domain stats table (rev 6 group, rev 5 consumers unaffected)', async () => {
  const host = Host.start({ backend: simBackend(), ownsBackend: true });
  const service = new PoolService();
  const memories = new Map<number, ArrayGuestMemory>();
  const hd = createHostDispatcher(host, [
    poolCallInstaller(service, {
      memoryOf: (dom) => {
        const m = new ArrayGuestMemory(dom.memoryMiB * 1024 * 1024);
        memories.set(dom.domid, m);
        return m;
      },
    }),
  ]);
  try {
    const dom = await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute', paused: true });
    const guest = new PoolGuest(hd.dispatcher, dom.domid, 1, memories.get(dom.domid)!);
    const p = await guest.create(false);
    guest.memory.write(0x4000n, pageOf(7));
    for (let i = 0; i < 3; i++) assert.equal((await guest.put(p, 1n << 100n, i, 0x4000)).status, STATUS.ok);
    await guest.get(p, 1n << 100n, 1, 0x8000);
    await guest.get(p, 2n, 1, 0x8000);
    await guest.flushPage(p, 1n << 100n, 0);
    const region = openShmRegion(dom.statsRegion);
    try {
      const newest = StatsTableReader.open(region, shippedStatsTableAbi()).read();
      const pool = newest.dom.groups.find((g) => g.name === 'pool');
      assert.equal(pool?.state, 'ok');
      const values = Object.fromEntries(pool!.counters.map((c) => [c.name, c.value]));
      assert.deepEqual(values, {
        puts: 3n,
        gets: 2n,
        hits: 1n,
        misses: 1n,
        evictions: 0n,
        pages_held: 2n,
        flushes: 1n,
        refused: 0n,
      });
      // A consumer built from revision 5 reads the same table unchanged: the group is beyond what it knows.
      const old = StatsTableReader.open(region, statsTableRevision(5)).read();
      assert.equal(
        old.dom.groups.some((g) => g.name === 'pool'),
        false,
      );
      assert.equal(old.dom.groups.find((g) => g.name === 'sched')?.state, 'ok');
      assert.deepEqual(old.unknownActive, [{ scope: 'dom', bit: 2 }]);
    } finally {
      region.close();
    }
    await host.destroy(dom.domid);
    assert.equal(service.hasDomain(dom.domid), false, 'pools go with the domain');
  } finally {
    await hd.close();
    await host.stop();
  }
});

test("the pool counters go through the host's own writer: the table is not mapped a second time", async () => {
  const host = Host.start({ backend: simBackend(), ownsBackend: true });
  const service = new PoolService();
  const memory = new ArrayGuestMemory(1 << 20);
  const mappings = (region: string) =>
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((line) => line.endsWith(`/${region}`)).length;
  try {
    const dom = await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute', paused: true });
    const before = mappings(dom.statsRegion);
    assert.ok(before >= 1, 'the host maps its table');
    const hd = createHostDispatcher(host, [poolCallInstaller(service, { memoryOf: () => memory })]);
    try {
      assert.equal(service.hasDomain(dom.domid), true);
      assert.equal(mappings(dom.statsRegion), before, 'the binding reuses the host writer');
      const guest = new PoolGuest(hd.dispatcher, dom.domid, 0, memory);
      const pool = await guest.create(false);
      assert.equal((await guest.put(pool, 5n, 0, 0x1000)).status, STATUS.ok);
      const copy = host.statsCopy(dom.domid);
      const table = StatsTableReader.open(bytesRegion(copy.data, 'copy'), statsTableRevision(copy.revision)).read();
      const counters = table.dom.groups.find((g) => g.name === 'pool')?.counters ?? [];
      assert.equal(counters.find((c) => c.name === 'puts')?.value, 1n);
    } finally {
      await hd.close();
    }
  } finally {
    await host.stop();
  }
});

test('ctl api: poolStats and poolList decode the tool calls', async () => {
  const { d, v0, v1 } = setup();
  await v0.create(false);
  await v1.create(true);
  await v1.put(2, 9n, 0, 0); // pool 2 does not exist: refused, changes nothing
  const caller = { call: (word: number, args: readonly bigint[] = []) => d.dispatch(word, args, TOOL) };
  const { poolList, poolStats } = await import('../../src/ctl/pools.ts');
  assert.deepEqual(await poolList(caller, 2), [{ poolId: 1, version: 1, persistent: true, pages: 0, slabBytes: 0 }]);
  const host = await poolStats(caller, 0);
  assert.equal(host.pools, 2);
  assert.equal(host.counters.puts, 0);
});
