import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketRange, bucketRanges, percentile, summarizeHistogram } from '../../src/stats/histogram.ts';
import { formatFraction, scaleValue, toBaseUnit, toNumber } from '../../src/stats/units.ts';

const ns = { unit: 'seconds', base: 10, exponent: -9 } as const;

test('seconds scale to ns, µs, ms and s', () => {
  assert.equal(scaleValue(0n, ns).text, '0 ns');
  assert.equal(scaleValue(999n, ns).text, '999 ns');
  assert.equal(scaleValue(1_000n, ns).text, '1 µs');
  assert.equal(scaleValue(1_234_567n, ns).text, '1.235 ms');
  assert.equal(scaleValue(1_500_000_000n, ns).text, '1.5 s');
  assert.equal(scaleValue(7200n * 1_000_000_000n, ns).text, '7200 s');
  assert.equal(scaleValue(5n, { unit: 'seconds', base: 10, exponent: 0 }).text, '5 s');
  assert.equal(scaleValue(0n, { unit: 'seconds', base: 10, exponent: 0 }).text, '0 s');
  assert.equal(scaleValue(1n, { unit: 'seconds', base: 10, exponent: -12 }).text, '0.001 ns');
  assert.equal(scaleValue(1n, { unit: 'seconds', base: 2, exponent: -1 }).text, '500 ms');
});

test('bytes honour pow2 versus pow10', () => {
  const b2 = { unit: 'bytes', base: 2, exponent: 0 } as const;
  const b10 = { unit: 'bytes', base: 10, exponent: 0 } as const;
  assert.equal(scaleValue(1023n, b2).text, '1023 B');
  assert.equal(scaleValue(1024n, b2).text, '1 KiB');
  assert.equal(scaleValue(1536n, b2).text, '1.5 KiB');
  assert.equal(scaleValue(1000n, b10).text, '1 kB');
  assert.equal(scaleValue(1024n, b10).text, '1.024 kB');
  assert.equal(scaleValue(3n, { unit: 'bytes', base: 2, exponent: 30 }).text, '3 GiB');
  assert.equal(scaleValue(1n, { unit: 'bytes', base: 2, exponent: 12 }).text, '4 KiB');
  assert.equal(scaleValue((1n << 64n) - 1n, b2).text, '16 EiB');
  assert.equal(scaleValue(0n, b2).text, '0 B');
});

test('counts and cycles stay exact beyond 2^53; booleans read as words', () => {
  const big = (1n << 64n) - 1n;
  assert.equal(scaleValue(big, { unit: 'none', base: 10, exponent: 0 }).text, big.toString());
  assert.equal(scaleValue((1n << 53n) + 1n, { unit: 'cycles', base: 10, exponent: 0 }).text, '9007199254740993 cycles');
  assert.equal(scaleValue(12n, { unit: 'none', base: 10, exponent: 3 }).text, '12000');
  assert.equal(scaleValue(0n, { unit: 'boolean', base: 10, exponent: 0 }).text, 'false');
  assert.equal(scaleValue(1n, { unit: 'boolean', base: 10, exponent: 0 }).text, 'true');
  assert.equal(scaleValue(2n, { unit: 'boolean', base: 10, exponent: 0 }).text, '2');
});

test('exact fractions, rounding half up, symbolic huge exponents', () => {
  assert.deepEqual(toBaseUnit(5n, { base: 10, exponent: -9 }), { num: 5n, den: 1_000_000_000n });
  assert.equal(formatFraction({ num: 2n, den: 3n }), '0.667');
  assert.equal(formatFraction({ num: 1n, den: 2000n }), '0.001');
  assert.equal(formatFraction({ num: 1n, den: 2001n }), '0');
  assert.equal(toNumber(1_500_000_000n, ns), 1.5);
  assert.equal(scaleValue(3n, { unit: 'seconds', base: 10, exponent: -32768 }).text, '3×10^-32768 s');
});

test('log2 buckets: 0 holds value 0, i ≥ 1 covers [2^(i-1), 2^i), the last is open', () => {
  assert.deepEqual(bucketRanges('log2', 4), [
    { index: 0, lower: 0n, upper: 1n },
    { index: 1, lower: 1n, upper: 2n },
    { index: 2, lower: 2n, upper: 4n },
    { index: 3, lower: 4n, upper: null },
  ]);
  assert.deepEqual(bucketRange('log2', 31, 32), { index: 31, lower: 1n << 30n, upper: null });
  assert.deepEqual(bucketRange('log2', 0, 1), { index: 0, lower: 0n, upper: null });
});

test('linear buckets are bucket_size wide, the last is open', () => {
  assert.deepEqual(bucketRanges('linear', 3, 10), [
    { index: 0, lower: 0n, upper: 10n },
    { index: 1, lower: 10n, upper: 20n },
    { index: 2, lower: 20n, upper: null },
  ]);
  assert.deepEqual(bucketRange('linear', 1, 3, 0xffffffff), { index: 1, lower: 0xffffffffn, upper: 0x1fffffffen });
  assert.throws(() => bucketRange('linear', 3, 3, 1), RangeError);
});

test('percentiles use the nearest rank over exact bigint counts', () => {
  const counts = [0n, 50n, 40n, 9n, 1n];
  assert.equal(percentile('log2', counts, 0.5)?.index, 1);
  assert.equal(percentile('log2', counts, 0.51)?.index, 2);
  assert.equal(percentile('log2', counts, 0.9)?.index, 2);
  assert.equal(percentile('log2', counts, 0.99)?.index, 3);
  assert.equal(percentile('log2', counts, 1)?.index, 4);
  assert.equal(percentile('log2', [0n, 0n], 0.5), undefined);
  const huge = [(1n << 63n) + 1n, 1n << 63n];
  assert.equal(percentile('linear', huge, 0.5, 5)?.index, 0);
  assert.deepEqual(summarizeHistogram('linear', [1n, 0n, 3n], 100), {
    total: 4n,
    nonEmptyBuckets: 2,
    p50: { quantile: 0.5, index: 2, lower: 200n, upper: null },
    p90: { quantile: 0.9, index: 2, lower: 200n, upper: null },
    p99: { quantile: 0.99, index: 2, lower: 200n, upper: null },
  });
  assert.deepEqual(summarizeHistogram('log2', [0n]), { total: 0n, nonEmptyBuckets: 0 });
});
