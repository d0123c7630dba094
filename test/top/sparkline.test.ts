import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HistoryRing, SeriesHistory, sparkline } from '../../src/tools/top/sparkline.ts';

test('sparkline scales from zero to the largest point, newest on the right, fixed width', () => {
  assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([7, 0], 5), '   █▁');
  assert.equal(sparkline([0, 0, 0], 3), '▁▁▁');
  assert.equal(sparkline([1, 2, 3, 4], 2), '▆█', 'only the newest points are drawn');
  assert.equal(sparkline([Number.NaN, -3, 10], 3), '▁▁█');
  assert.equal(sparkline([], 4), '    ');
  assert.equal(sparkline([5], 0), '');
});

test('sparkline always has exactly the requested width (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: false })), fc.integer({ min: 0, max: 40 }), (values, width) => {
      assert.equal([...sparkline(values, width)].length, width);
    }),
    { numRuns: 300 },
  );
});

test('history ring keeps the newest points, oldest first', () => {
  const ring = new HistoryRing(3);
  assert.deepEqual(ring.values(), []);
  for (const v of [1, 2, 3, 4, 5]) ring.push(v);
  assert.deepEqual(ring.values(), [3, 4, 5]);
  assert.throws(() => new HistoryRing(0), RangeError);
});

test('series history forgets series that were not recorded in a round', () => {
  const h = new SeriesHistory(4);
  h.record('a', 1);
  h.record('b', 2);
  h.sweep();
  h.record('a', 3);
  h.sweep();
  assert.deepEqual(h.values('a'), [1, 3]);
  assert.deepEqual(h.values('b'), []);
  assert.equal(h.seriesCount, 1);
});
