import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BITMAP_BITS, ChangeBitmap, lowestBit } from '../../src/host/change-bitmap.ts';

test('lowestBit is the index of the lowest set bit of a u32', () => {
  for (let b = 0; b < 32; b++) {
    assert.equal(lowestBit((1 << b) >>> 0), b);
    assert.equal(lowestBit(0xffff_ffff << b), b);
  }
});

test('the bitmap agrees with a set under random set/clear; summaries stay exact', () => {
  const bit = fc.oneof(
    fc.integer({ min: 0, max: BITMAP_BITS - 1 }),
    fc.constantFrom(0, 31, 32, 1023, 1024, 32767),
    fc.integer({ min: 2000, max: 2100 }),
  );
  const op = fc.tuple(fc.boolean(), bit);
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const map = new ChangeBitmap();
      const ref = new Set<number>();
      for (const [set, b] of ops) {
        if (set) {
          map.set(b);
          ref.add(b);
        } else {
          map.clear(b);
          ref.delete(b);
        }
        assert.equal(map.has(b), ref.has(b));
        assert.equal(map.empty, ref.size === 0);
        assert.equal(map.first(), ref.size === 0 ? -1 : Math.min(...ref));
      }
      for (let w = 0; w < map.words.length; w++) {
        assert.equal((map.summary[w >>> 5]! >>> (w & 31)) & 1, map.words[w] === 0 ? 0 : 1);
      }
      const drained: number[] = [];
      for (let b = map.take(); b >= 0; b = map.take()) drained.push(b);
      assert.deepEqual(
        drained,
        [...ref].sort((a, c) => a - c),
      );
      assert.ok(map.empty);
      assert.ok(map.summary.every((s) => s === 0));
    }),
    { numRuns: 300 },
  );
});

test('out-of-range bits are refused', () => {
  const map = new ChangeBitmap();
  for (const b of [-1, BITMAP_BITS, 1.5, Number.NaN]) assert.throws(() => map.set(b), RangeError);
});
