import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeUniqueId,
  encodeUniqueId,
  inverseOdd64,
  MASK64,
  randomUniqueIdParameters,
  UniqueIdAllocator,
  uniqueIdHex,
} from '../../src/host/unique-id.ts';

const u64 = fc.bigInt({ min: 0n, max: MASK64 });
const oddMultiplier = fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }).map((x) => (x << 1n) | 1n);
const params = fc.record({ seed: u64, multiplier: oddMultiplier });

test('the inverse of an odd multiplier is its inverse modulo 2^64', () => {
  fc.assert(
    fc.property(oddMultiplier, (k) => {
      assert.equal((k * inverseOdd64(k)) & MASK64, 1n);
    }),
    { numRuns: 1000 },
  );
  assert.throws(() => inverseOdd64(6n), RangeError);
});

test('encoding is a bijection of the u64 space: decode∘encode and encode∘decode are the identity', () => {
  // A left inverse makes encode injective (no id repeats before 2^64 creations); a right inverse
  // makes it surjective. Together: a permutation of the 2^64 values, for every seed and K.
  fc.assert(
    fc.property(params, u64, u64, (p, n, id) => {
      assert.equal(decodeUniqueId(p, encodeUniqueId(p, n)), n);
      assert.equal(encodeUniqueId(p, decodeUniqueId(p, id)), id);
    }),
    { numRuns: 1000 },
  );
});

test('the allocator hands out encode(n) for n = 0, 1, 2 … and skips the one n that maps to 0', () => {
  fc.assert(
    fc.property(params, fc.integer({ min: 0, max: 40 }), (p, zeroAt) => {
      // Place the zero inside the window for half the runs: seed + zeroAt ≡ 0.
      const q = zeroAt % 2 === 0 ? { ...p, seed: (-BigInt(zeroAt) & MASK64) as bigint } : p;
      const alloc = new UniqueIdAllocator(q);
      let last = -1n;
      for (let i = 0; i < 40; i++) {
        const id = alloc.next();
        assert.notEqual(id, 0n);
        const n = decodeUniqueId(q, id);
        assert.ok(n > last, 'counter values strictly increase, so no id repeats');
        assert.ok(n - last <= 2n, 'at most the zero is skipped');
        last = n;
      }
    }),
    { numRuns: 300 },
  );
});

test('random parameters: odd multiplier > 1; ids look unrelated and render as 16 hex digits', () => {
  for (let i = 0; i < 100; i++) {
    const p = randomUniqueIdParameters();
    assert.equal(p.multiplier & 1n, 1n);
    assert.ok(p.multiplier > 1n);
  }
  const alloc = new UniqueIdAllocator();
  const a = alloc.next();
  const b = alloc.next();
  assert.notEqual(b - a, 1n);
  assert.match(uniqueIdHex(a), /^[0-9a-f]{16}$/);
  assert.equal(uniqueIdHex(1n), '0000000000000001');
  assert.throws(() => new UniqueIdAllocator({ seed: 0n, multiplier: 1n }), RangeError);
  assert.throws(() => new UniqueIdAllocator({ seed: 0n, multiplier: 4n }), RangeError);
});
