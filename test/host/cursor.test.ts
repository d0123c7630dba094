/**
 * Reading the change bitmap round the domids: `firstFrom` agrees with a plain scan for any set of
 * bits and any start, and a consumer whose low domids keep changing still sees the high ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BITMAP_BITS, ChangeBitmap } from '../../src/host/change-bitmap.ts';
import { LifecycleFeed } from '../../src/host/lifecycle.ts';

function naiveFirstFrom(bits: Set<number>, start: number): number {
  for (let b = start; b < BITMAP_BITS; b++) if (bits.has(b)) return b;
  return -1;
}

test('firstFrom finds the first set bit at or after any start, across every level', () => {
  const bit = fc.oneof(
    fc.integer({ min: 0, max: BITMAP_BITS - 1 }),
    fc.constantFrom(0, 31, 32, 1023, 1024, 1055, 31743, 31744, BITMAP_BITS - 1),
  );
  fc.assert(
    fc.property(fc.uniqueArray(bit, { maxLength: 40 }), bit, (bits, start) => {
      const map = new ChangeBitmap();
      for (const b of bits) map.set(b);
      assert.equal(map.firstFrom(start), naiveFirstFrom(new Set(bits), start));
    }),
    { numRuns: 1000 },
  );
});

test('takeFrom wraps to the lowest bit and clears what it returns', () => {
  const map = new ChangeBitmap();
  for (const b of [3, 700, 32000]) map.set(b);
  assert.equal(map.takeFrom(701), 32000);
  assert.equal(map.takeFrom(32001), 3);
  assert.equal(map.takeFrom(4), 700);
  assert.equal(map.takeFrom(0), -1);
  assert.ok(map.empty);
});

test('a consumer reading one change at a time is not starved by churn on low domids', () => {
  const feed = new LifecycleFeed();
  const consumer = feed.subscribe();
  feed.publish(30000, 'running', 77n, 1);
  let sawHigh = false;
  // Every read, the low domids change again (as a host that re-creates domains 1..3 would).
  for (let round = 0; round < 10 && !sawHigh; round++) {
    for (const domid of [1, 2, 3]) feed.publish(domid, 'running', BigInt(100 + round * 3 + domid), round + 1);
    const got = feed.getDomainState(consumer);
    if (got !== 'none' && got.domid === 30000) sawHigh = true;
  }
  assert.ok(sawHigh, 'domid 30000 was read within a few reads despite constant low-domid changes');
});
