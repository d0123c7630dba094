import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { STATUS } from '../../src/formats/callword/constants.ts';
import { OID_BYTES, oidFromBytes, oidToBytes, PAGE_BYTES, poolFlags } from '../../src/formats/callword/pool.ts';
import { ArrayGuestMemory, type GuestMemoryAccess } from '../../src/host/pools/guest-memory.ts';
import { PageStore } from '../../src/host/pools/page-store.ts';
import { PoolError, PoolService } from '../../src/host/pools/service.ts';
import { pageOf } from './helpers.ts';

const V0_EPH = poolFlags(0, false);
const V1_EPH = poolFlags(1, false);
const V0_PERS = poolFlags(0, true);
const V1_PERS = poolFlags(1, true);

function status(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof PoolError, `expected a PoolError, got ${e}`);
    return e.status;
  }
}

test('put, get, flush page, flush object, destroy on a v0 and a v1 pool', () => {
  const s = new PoolService();
  s.attachDomain(1);
  const p0 = s.create(1, V0_PERS);
  const p1 = s.create(1, V1_EPH);
  assert.notEqual(p0, p1);
  const big = (1n << 191n) | 5n;
  s.put(1, p0, 7n, 0, pageOf(1));
  s.put(1, p0, 7n, 1, pageOf(2));
  s.put(1, p1, big, 0, pageOf(3));
  assert.deepEqual(s.get(1, p0, 7n, 0), pageOf(1));
  assert.deepEqual(s.get(1, p0, 7n, 1), pageOf(2));
  assert.deepEqual(s.get(1, p1, big, 0), pageOf(3));
  assert.equal(s.get(1, p1, 5n, 0), undefined, 'the low bits alone name another object');
  s.put(1, p0, 7n, 0, pageOf(9));
  assert.deepEqual(s.get(1, p0, 7n, 0), pageOf(9), 'a put replaces the page');
  assert.equal(s.flushPage(1, p0, 7n, 0), true);
  assert.equal(s.flushPage(1, p0, 7n, 0), false);
  assert.equal(s.get(1, p0, 7n, 0), undefined);
  s.put(1, p0, 8n, 3, pageOf(4));
  assert.equal(s.flushObject(1, p0, 7n), 1);
  assert.deepEqual(s.get(1, p0, 8n, 3), pageOf(4));
  assert.equal(s.pagesHeld, 2);
  assert.equal(s.destroy(1, p0), 1);
  assert.equal(
    status(() => s.get(1, p0, 8n, 3)),
    STATUS.badArgument,
    'a destroyed pool is gone',
  );
  const c = s.counters(1);
  assert.deepEqual(
    { puts: c.puts, gets: c.gets, hits: c.hits, misses: c.misses, flushes: c.flushes, held: c.pages_held },
    { puts: 5, gets: 7, hits: 5, misses: 2, flushes: 3, held: 1 },
  );
});

test('create flags: reserved bits and bits above 31 are bad_argument; unknown versions not_supported', () => {
  const s = new PoolService();
  s.attachDomain(1);
  for (let bit = 1; bit < 24; bit++)
    assert.equal(
      status(() => s.create(1, 1 << bit)),
      STATUS.badArgument,
      `bit ${bit}`,
    );
  assert.equal(
    status(() => s.create(1, 1n << 32n)),
    STATUS.badArgument,
  );
  for (const version of [2, 3, 0x7f, 0xff]) {
    assert.equal(
      status(() => s.create(1, poolFlags(version, false))),
      STATUS.notSupported,
      `v${version}`,
    );
  }
  assert.deepEqual(s.pools(1), [], 'no refused create made a pool');
  // The guest runs on as if pools were off: calls on the pool id it never got fail cleanly.
  for (const id of [0, 1, 4095]) {
    assert.equal(
      status(() => s.put(1, id, 1n, 0, pageOf(1))),
      STATUS.badArgument,
    );
    assert.equal(
      status(() => s.get(1, id, 1n, 0)),
      STATUS.badArgument,
    );
    assert.equal(
      status(() => s.flushObject(1, id, 1n)),
      STATUS.badArgument,
    );
  }
  assert.equal(
    status(() => s.create(2, V0_EPH)),
    STATUS.noSuchDomain,
  );
});

test('object ids: a v0 pool refuses ids past 64 bits; v0 ids are v1 ids with the upper 128 bits zero', () => {
  const s = new PoolService();
  s.attachDomain(1);
  const v0 = s.create(1, V0_PERS);
  const v1 = s.create(1, V1_PERS);
  assert.equal(
    status(() => s.put(1, v0, 1n << 64n, 0, pageOf(1))),
    STATUS.badArgument,
  );
  assert.equal(
    status(() => s.put(1, v1, 1n << 192n, 0, pageOf(1))),
    STATUS.badArgument,
  );
  assert.equal(
    status(() => s.put(1, v0, 1n, 2 ** 32, pageOf(1))),
    STATUS.badArgument,
  );
  const x = 0xdead_beef_0123_4567n;
  s.put(1, v0, x, 0, pageOf(1));
  s.put(1, v1, x, 0, pageOf(2));
  // Both pools key the page by the same 192-bit id (x, 0, 0).
  assert.deepEqual(s.keys(1, v0), s.keys(1, v1));
  assert.equal(s.keys(1, v0)[0]!.oid, x);
});

test('persistent pools refuse a put beyond their budget and keep every acknowledged page', () => {
  const s = new PoolService({ poolPages: 4, hostPages: 6 });
  s.attachDomain(1);
  const p = s.create(1, V1_PERS);
  for (let i = 0; i < 4; i++) s.put(1, p, 1n, i, pageOf(i));
  assert.equal(
    status(() => s.put(1, p, 1n, 4, pageOf(4))),
    STATUS.noResources,
  );
  s.put(1, p, 1n, 3, pageOf(33)); // replacing needs no room
  const q = s.create(1, V0_PERS);
  s.put(1, q, 1n, 0, pageOf(10));
  s.put(1, q, 1n, 1, pageOf(11));
  assert.equal(
    status(() => s.put(1, q, 1n, 2, pageOf(12))),
    STATUS.noResources,
    'host budget',
  );
  for (let i = 0; i < 3; i++) assert.deepEqual(s.get(1, p, 1n, i), pageOf(i));
  assert.deepEqual(s.get(1, p, 1n, 3), pageOf(33));
  assert.equal(s.counters(1).refused, 2);
  assert.equal(s.counters(1).evictions, 0);
});

test('ephemeral pools evict least recently used pages, within the pool and host-wide, never persistent ones', () => {
  const s = new PoolService({ poolPages: 4, hostPages: 6 });
  s.attachDomain(1);
  s.attachDomain(2);
  const e = s.create(1, V0_EPH);
  for (let i = 0; i < 4; i++) s.put(1, e, 1n, i, pageOf(i));
  assert.ok(s.get(1, e, 1n, 0)); // 0 becomes most recently used: 1 is now the oldest
  s.put(1, e, 1n, 4, pageOf(4));
  assert.equal(s.get(1, e, 1n, 1), undefined, 'the LRU page went');
  assert.deepEqual(s.get(1, e, 1n, 0), pageOf(0));
  assert.equal(s.pools(1)[0]!.pages, 4);
  // Domain 2's persistent pool takes the host's last pages, evicting domain 1's ephemeral ones.
  const p = s.create(2, V1_PERS);
  for (let i = 0; i < 4; i++) s.put(2, p, 9n, i, pageOf(100 + i));
  assert.equal(s.pagesHeld, 6);
  assert.equal(s.counters(1).evictions, 3);
  assert.equal(s.counters(1).pages_held, 2);
  assert.equal(
    status(() => s.put(2, p, 9n, 4, pageOf(0))),
    STATUS.noResources,
    'the pool budget',
  );
  for (let i = 0; i < 4; i++) assert.deepEqual(s.get(2, p, 9n, i), pageOf(100 + i));
  assert.equal(s.counters(0).pages_held, 6);
});

test('the store keeps one slab per pool and reuses freed slots', () => {
  const store = new PageStore(64);
  for (let i = 0; i < 20; i++) store.put(1n, i, pageOf(i), i);
  assert.equal(store.slabBytes, 32 * PAGE_BYTES, 'grown by doubling');
  for (let i = 0; i < 10; i++) store.remove(1n, i);
  for (let i = 0; i < 10; i++) store.put(2n, i, pageOf(50 + i), 100 + i);
  assert.equal(store.slabBytes, 32 * PAGE_BYTES, 'freed slots were reused');
  for (let i = 10; i < 20; i++) assert.deepEqual(Uint8Array.from(store.page(store.find(1n, i))), pageOf(i));
  for (let i = 0; i < 10; i++) assert.deepEqual(Uint8Array.from(store.page(store.find(2n, i))), pageOf(50 + i));
  assert.equal(store.removeObject(2n), 10);
  assert.equal(store.size, 10);
});

test('guest memory: put and get copy 4 KiB by guest-physical address; bad addresses are bad_argument', () => {
  const memory = new ArrayGuestMemory(16 * PAGE_BYTES);
  const s = new PoolService();
  s.attachDomain(3, { memory });
  const p = s.create(3, V1_PERS);
  memory.write(0x2000n, pageOf(5));
  s.putFromGuest(3, p, 42n, 1, 0x2000n);
  memory.write(0x2000n, pageOf(6)); // the pool holds a copy
  assert.equal(s.getToGuest(3, p, 42n, 1, 0x5000n), true);
  assert.deepEqual(memory.read(0x5000n, PAGE_BYTES), pageOf(5));
  assert.equal(s.getToGuest(3, p, 43n, 1, 0x5000n), false);
  assert.deepEqual(memory.read(0x5000n, PAGE_BYTES), pageOf(5), 'a miss leaves the page alone');
  assert.equal(
    status(() => s.putFromGuest(3, p, 1n, 0, 0x2001n)),
    STATUS.badArgument,
  );
  assert.equal(
    status(() => s.putFromGuest(3, p, 1n, 0, 16n * BigInt(PAGE_BYTES))),
    STATUS.badArgument,
  );
  assert.equal(
    status(() => s.getToGuest(3, p, 42n, 1, 1n << 40n)),
    STATUS.badArgument,
  );
  s.attachDomain(4);
  const q = s.create(4, V0_EPH);
  assert.equal(
    status(() => s.putFromGuest(4, q, 1n, 0, 0n)),
    STATUS.notSupported,
  );
});

test('v1 ids by reference: 24 little-endian bytes, 8-byte aligned, inside guest memory', () => {
  const memory = new ArrayGuestMemory(4 * PAGE_BYTES);
  const s = new PoolService();
  s.attachDomain(1, { memory });
  const p = s.create(1, V1_PERS);
  // Six u32 words, least significant first, each little-endian: word k = 0x0k0k0k0k + 1.
  const words = [0x0101_0102, 0x0202_0203, 0x0303_0304, 0x0404_0405, 0x0505_0506, 0x0606_0607];
  const raw = new Uint8Array(OID_BYTES);
  for (const [k, w] of words.entries()) new DataView(raw.buffer).setUint32(4 * k, w, true);
  memory.write(0x108n, raw);
  const id = words.reduceRight((acc, w) => (acc << 32n) | BigInt(w), 0n);
  assert.equal(s.oidFromGuest(1, p, 0x108n), id);
  assert.equal(oidFromBytes(raw), id);
  assert.deepEqual(oidToBytes(id), raw);
  // The last aligned slot of guest memory is fine; one past it, unaligned or far out is bad_argument.
  const end = BigInt(memory.bytes.length);
  memory.write(end - 24n, oidToBytes((1n << 192n) - 1n));
  assert.equal(s.oidFromGuest(1, p, end - 24n), (1n << 192n) - 1n);
  for (const gpa of [0x109n, 0x10cn, 0x104n, end - 16n, end - 8n, end, 1n << 40n, (1n << 64n) - 8n]) {
    assert.equal(
      status(() => s.oidFromGuest(1, p, gpa)),
      STATUS.badArgument,
      `oid at 0x${gpa.toString(16)}`,
    );
  }
  // A pool the domain does not have, or a domain whose memory the host cannot reach.
  assert.equal(
    status(() => s.oidFromGuest(1, p + 1, 0x108n)),
    STATUS.badArgument,
  );
  s.attachDomain(2);
  const q = s.create(2, V1_PERS);
  assert.equal(
    status(() => s.oidFromGuest(2, q, 0x108n)),
    STATUS.notSupported,
  );
  assert.throws(() => oidToBytes(1n << 192n), RangeError);
  assert.throws(() => oidFromBytes(new Uint8Array(23)), RangeError);
});

test('a v1 id is fetched once: one 24-byte read, whatever the guest writes there afterwards', () => {
  const backing = new ArrayGuestMemory(4 * PAGE_BYTES);
  const reads: Array<[bigint, number]> = [];
  // A hostile guest: another vCPU rewrites the id the moment the host has read it.
  const racing: GuestMemoryAccess = {
    read(gpa, length) {
      reads.push([gpa, length]);
      const out = backing.read(gpa, length);
      if (gpa === 0x40n) backing.write(0x40n, oidToBytes(99n));
      return out;
    },
    write: (gpa, data) => backing.write(gpa, data),
  };
  const s = new PoolService();
  s.attachDomain(1, { memory: racing });
  const p = s.create(1, V1_PERS);
  const id = (7n << 160n) | 5n;
  backing.write(0x40n, oidToBytes(id));
  assert.equal(s.oidFromGuest(1, p, 0x40n), id);
  assert.deepEqual(reads, [[0x40n, OID_BYTES]]);
  assert.equal(s.oidFromGuest(1, p, 0x40n), 99n, 'the next call sees what the guest wrote');
});

test('detaching a domain frees its pools and keeps the host totals', () => {
  const s = new PoolService();
  s.attachDomain(1);
  const p = s.create(1, V0_EPH);
  s.put(1, p, 1n, 0, pageOf(1));
  s.detachDomain(1);
  assert.equal(s.pagesHeld, 0);
  assert.equal(s.counters(0).puts, 1);
  assert.equal(
    status(() => s.get(1, p, 1n, 0)),
    STATUS.noSuchDomain,
  );
});

// Property: random operation sequences against a model (a Map of acknowledged pages).
type Op =
  | { op: 'put'; pool: number; oid: bigint; index: number; seed: number }
  | { op: 'get'; pool: number; oid: bigint; index: number }
  | { op: 'flushPage'; pool: number; oid: bigint; index: number }
  | { op: 'flushObject'; pool: number; oid: bigint };

// Few distinct ids so operations collide; v1 ids include ones whose low 64 bits equal a v0 id.
const oidArb = fc.constantFrom(0n, 1n, 2n, (1n << 64n) - 1n, 1n << 64n, (1n << 128n) | 1n, (1n << 192n) - 1n);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    pool: fc.nat(3),
    oid: oidArb,
    index: fc.nat(5),
    seed: fc.nat(1000),
  }),
  fc.record({ op: fc.constant('get' as const), pool: fc.nat(3), oid: oidArb, index: fc.nat(5) }),
  fc.record({ op: fc.constant('flushPage' as const), pool: fc.nat(3), oid: oidArb, index: fc.nat(5) }),
  fc.record({ op: fc.constant('flushObject' as const), pool: fc.nat(3), oid: oidArb }),
);

test('property: persistent pools never lose an acknowledged page; ephemeral ones may miss but never return wrong data', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 120 }), fc.integer({ min: 2, max: 8 }), (ops, poolPages) => {
      const s = new PoolService({ poolPages, hostPages: poolPages * 3 });
      s.attachDomain(1);
      // Pools 0..3: v0 ephemeral, v1 ephemeral, v0 persistent, v1 persistent.
      const specs = [V0_EPH, V1_EPH, V0_PERS, V1_PERS];
      const ids = specs.map((f) => s.create(1, f));
      const model = specs.map(() => new Map<string, number>());
      for (const o of ops) {
        const persistent = o.pool >= 2;
        const v0 = o.pool % 2 === 0;
        const pool = ids[o.pool]!;
        const m = model[o.pool]!;
        const tooWide = v0 && o.oid >= 1n << 64n;
        const k = (index: number) => `${o.oid}/${index}`;
        if (tooWide) {
          const st = status(() => (o.op === 'flushObject' ? s.flushObject(1, pool, o.oid) : s.get(1, pool, o.oid, 0)));
          assert.equal(st, STATUS.badArgument, 'a v0 pool cannot name an id past 64 bits');
          continue;
        }
        if (o.op === 'put') {
          const st = status(() => s.put(1, pool, o.oid, o.index, pageOf(o.seed)));
          if (st === undefined) m.set(k(o.index), o.seed);
          else {
            assert.equal(st, STATUS.noResources);
            assert.ok(persistent, 'an ephemeral put always finds room by evicting');
          }
        } else if (o.op === 'get') {
          const got = s.get(1, pool, o.oid, o.index);
          const want = m.get(k(o.index));
          if (got === undefined) {
            assert.ok(!persistent || want === undefined, 'a persistent pool lost an acknowledged page');
            m.delete(k(o.index)); // evicted: the model forgets it too
          } else {
            assert.notEqual(want, undefined, 'a page came back that was never put (or was flushed)');
            assert.deepEqual(got, pageOf(want!), 'wrong data');
          }
        } else if (o.op === 'flushPage') {
          const removed = s.flushPage(1, pool, o.oid, o.index);
          if (persistent) assert.equal(removed, m.has(k(o.index)));
          m.delete(k(o.index));
        } else {
          const n = s.flushObject(1, pool, o.oid);
          const keys = [...m.keys()].filter((key) => key.startsWith(`${o.oid}/`));
          if (persistent) assert.equal(n, keys.length);
          for (const key of keys) m.delete(key);
        }
        assert.ok(s.pagesHeld <= poolPages * 3, 'host budget');
        for (const info of s.pools(1)) assert.ok(info.pages <= poolPages, 'pool budget');
      }
      // At the end every acknowledged persistent page is there, byte for byte.
      for (const p of [2, 3]) {
        for (const [key, seed] of model[p]!) {
          const [oid, index] = key.split('/');
          assert.deepEqual(s.get(1, ids[p]!, BigInt(oid!), Number(index)), pageOf(seed));
        }
      }
      const held = s.pools(1).reduce((n, p) => n + p.pages, 0);
      assert.equal(held, s.pagesHeld);
      assert.equal(s.counters(1).pages_held, held);
    }),
    { numRuns: 300 },
  );
});

test('the VMM accessor shape adapts to the service (bounds errors stay bad_argument)', async () => {
  const { fromVmmMemory } = await import('../../src/host/pools/guest-memory.ts');
  const backing = new ArrayGuestMemory(4 * PAGE_BYTES);
  const vmm = {
    read: (gpa: number, into: Uint8Array) => into.set(backing.read(BigInt(gpa), into.length)),
    write: (gpa: number, from: Uint8Array) => backing.write(BigInt(gpa), from),
  };
  const s = new PoolService();
  s.attachDomain(1, { memory: fromVmmMemory(vmm) });
  const p = s.create(1, V0_PERS);
  backing.write(0n, pageOf(3));
  s.putFromGuest(1, p, 1n, 0, 0n);
  assert.equal(s.getToGuest(1, p, 1n, 0, 0x3000n), true);
  assert.deepEqual(backing.read(0x3000n, PAGE_BYTES), pageOf(3));
  assert.equal(
    status(() => s.getToGuest(1, p, 1n, 0, 0x4000n)),
    STATUS.badArgument,
  );
});
