import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { computeDeltas, counterDelta, histogramDelta, perSecond } from '../../src/tools/top/rates.ts';
import { seriesKey } from '../../src/tools/top/series.ts';
import { counter, log2Hist, sample, vm } from './fixtures/samples.ts';

test('rates per second by VM, vCPU and stat name', () => {
  const a = sample(1, [
    vm({ key: 'a', vm: [counter('remote_tlb_flush', 10n)], vcpus: [[counter('exits', 100n)], [counter('exits', 5n)]] }),
  ]);
  const b = sample(3, [
    vm({ key: 'a', vm: [counter('remote_tlb_flush', 30n)], vcpus: [[counter('exits', 300n)], [counter('exits', 5n)]] }),
  ]);
  const d = computeDeltas(a, b);
  assert.equal(d.intervalNs, 2_000_000_000n);
  assert.deepEqual(d.counters.get(seriesKey('a', 0, 'exits')), { delta: 200n, reset: false, perSecond: 100 });
  assert.equal(d.counters.get(seriesKey('a', 1, 'exits'))?.perSecond, 0);
  assert.equal(d.counters.get(seriesKey('a', 'vm', 'remote_tlb_flush'))?.perSecond, 10);
});

test('a counter that decreased was reset: its value since the reset, never a negative rate', () => {
  assert.deepEqual(counterDelta(1000n, 40n), { delta: 40n, reset: true });
  const a = sample(0, [vm({ key: 'a', vcpus: [[counter('exits', 1000n)]] })]);
  const b = sample(1, [vm({ key: 'a', vcpus: [[counter('exits', 40n)]] })]);
  const d = computeDeltas(a, b).counters.get(seriesKey('a', 0, 'exits'));
  assert.deepEqual(d, { delta: 40n, reset: true, perSecond: 40 });
});

test('rates are never negative (property)', () => {
  fc.assert(
    fc.property(
      fc.bigUint64Array({ minLength: 2, maxLength: 2 }),
      fc.integer({ min: 1, max: 10_000 }),
      ([x, y], ms) => {
        const a = sample(0, [vm({ key: 'k', vcpus: [[counter('exits', x!)]] })]);
        const b = sample(ms / 1000, [vm({ key: 'k', vcpus: [[counter('exits', y!)]] })]);
        const d = computeDeltas(a, b).counters.get(seriesKey('k', 0, 'exits'))!;
        assert.ok(d.delta >= 0n && d.perSecond >= 0);
        assert.equal(d.reset, y! < x!);
      },
    ),
    { numRuns: 300 },
  );
});

test('new series, new VM keys and the first sample have no rate', () => {
  const a = sample(0, [vm({ key: 'old', vcpus: [[counter('exits', 1n)]] })]);
  const b = sample(1, [
    vm({ key: 'new', vcpus: [[counter('exits', 9n)]] }),
    vm({ key: 'old', vcpus: [[counter('exits', 2n), counter('io_exits', 1n)]] }),
  ]);
  const d = computeDeltas(a, b);
  assert.equal(d.counters.has(seriesKey('new', 0, 'exits')), false);
  assert.equal(d.counters.has(seriesKey('old', 0, 'io_exits')), false);
  assert.equal(d.counters.size, 1);
  assert.equal(computeDeltas(undefined, b).counters.size, 0);
  assert.equal(computeDeltas(b, b).intervalNs, 0n, 'no time passed: no rates');
});

test('histogram buckets gathered during the interval; a shrinking bucket is a reset', () => {
  assert.deepEqual(histogramDelta([1n, 2n, 3n], [1n, 5n, 4n]), { buckets: [0n, 3n, 1n], reset: false });
  assert.deepEqual(histogramDelta([1n, 2n, 3n], [0n, 5n, 4n]), { buckets: [0n, 5n, 4n], reset: true });
  assert.deepEqual(histogramDelta([1n], [1n, 1n]), { buckets: [1n, 1n], reset: true });
  const a = sample(0, [vm({ key: 'a', vcpus: [[log2Hist('vmm.exit_latency_hist', [0n, 4n, 4n])]] })]);
  const b = sample(1, [vm({ key: 'a', vcpus: [[log2Hist('vmm.exit_latency_hist', [0n, 6n, 10n])]] })]);
  assert.deepEqual(computeDeltas(a, b).histograms.get(seriesKey('a', 0, 'vmm.exit_latency_hist'))?.buckets, [
    0n,
    2n,
    6n,
  ]);
});

test('perSecond keeps the integer part exact for large deltas', () => {
  assert.equal(perSecond(2n ** 60n, 1_000_000_000n), 2 ** 60);
  assert.equal(perSecond(3n, 2_000_000_000n), 1.5);
  assert.equal(perSecond(1n, 0n), 0);
});

test('a VM read later than its sample began: its rates are per second of its own interval', () => {
  // The second sample began one second after the first, but a /proc rescan delayed reading this
  // VM by 300 ms; a counter of busy time that grew by exactly that interval's wall time is 100%
  // busy, not 130%.
  const SECOND = 1_000_000_000n;
  const a = sample(0, [{ ...vm({ key: 'v', vcpus: [[counter('run_ns', 0n)]] }), at: 10n * SECOND }]);
  const b = sample(1, [
    { ...vm({ key: 'v', vcpus: [[counter('run_ns', 1_300_000_000n)]] }), at: 11n * SECOND + 300_000_000n },
  ]);
  assert.equal(b.at - a.at, SECOND, 'the samples a second apart');
  const d = computeDeltas(a, b);
  assert.equal(d.counters.get(seriesKey('v', 0, 'run_ns'))?.perSecond, 1_000_000_000, 'one second per second');
  // Without a read time for the VM, the samples' interval is all there is.
  const c = sample(1, [vm({ key: 'v', vcpus: [[counter('run_ns', 1_300_000_000n)]] })]);
  assert.equal(computeDeltas(a, c).counters.get(seriesKey('v', 0, 'run_ns'))?.perSecond, 1_300_000_000);
});

test('rates over each VM’s own interval: a busy-time counter growing with wall time reads 100% however late each VM is read (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 })), {
        minLength: 1,
        maxLength: 5,
      }),
      // Each VM read within 500 ms of its sample's start; samples at least a second apart.
      fc.integer({ min: 1000, max: 5000 }),
      (delays, intervalMs) => {
        const MS = 1_000_000n;
        const start = 1000n * MS;
        const next = start + BigInt(intervalMs) * MS;
        const vms = (base: bigint, pick: 0 | 1) =>
          delays.map((d, i) => {
            const readAt = base + BigInt(d[pick]) * MS;
            // Busy all the time: the counter is the read time itself.
            return { ...vm({ key: `v${i}`, vcpus: [[counter('run_ns', readAt)]] }), at: readAt };
          });
        const a = { ...sample(0, vms(start, 0)), at: start };
        const b = { ...sample(0, vms(next, 1)), at: next };
        const d = computeDeltas(a, b);
        for (let i = 0; i < delays.length; i++) {
          assert.equal(d.counters.get(seriesKey(`v${i}`, 0, 'run_ns'))?.perSecond, 1_000_000_000);
        }
      },
    ),
    { numRuns: 200 },
  );
});
