/**
 * WebState over arbitrary sample sequences (VMs coming and going, counters that reset, histograms
 * of any shape): the drill-down ring and the event ring stay within their bounds, points are in
 * sample order, only VMs present now are listed or drillable, and every rate is a finite number
 * that is never negative.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { HostSample } from '../../src/attach/sample.ts';
import { WebState } from '../../src/tools/web/state.ts';
import { counter, event, log2Hist, sample, vm } from '../top/fixtures/samples.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const vmArb = fc.record({
  key: fc.constantFrom('a', 'b', 'c'),
  exits: u64,
  io: u64,
  buckets: fc.array(fc.bigInt({ min: 0n, max: 1n << 40n }), { minLength: 1, maxLength: 8 }),
});

const samplesArb = fc.array(
  fc.record({
    vms: fc.uniqueArray(vmArb, { selector: (v) => v.key, maxLength: 3 }),
    reused: fc.boolean(),
  }),
  { minLength: 1, maxLength: 30 },
);

test('rings stay bounded, points ordered, rates finite and non-negative', () => {
  fc.assert(
    fc.property(samplesArb, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (steps, history, limit) => {
      const state = new WebState({ historyLength: history, eventLimit: limit });
      steps.forEach((step, n) => {
        const s: HostSample = sample(
          n + 1,
          step.vms.map((v) =>
            vm({
              key: v.key,
              vcpus: [
                [counter('exits', v.exits), counter('io_exits', v.io), log2Hist('vmm.exit_latency_hist', v.buckets)],
              ],
            }),
          ),
          step.reused && step.vms[0] ? [event('domid-reused', step.vms[0].key, 'reused')] : [],
        );
        state.push(s, 1000 * n);
        const listed = state.vms().vms.map((v) => v.key);
        assert.deepEqual(
          listed,
          step.vms.map((v) => v.key),
        );
        assert.ok(state.events().events.length <= limit);
        for (const v of state.vms().vms) {
          for (const rate of Object.values(v.rates)) assert.ok(Number.isFinite(rate) && rate >= 0, String(rate));
          const detail = state.vm(v.key)!;
          assert.ok(detail.points.length <= history);
          const seqs = detail.points.map((p) => p.seq);
          assert.deepEqual(
            seqs,
            [...seqs].sort((x, y) => x - y),
          );
          for (const p of detail.points) {
            for (const r of Object.values(p.reasons)) assert.ok(Number.isFinite(r) && r >= 0);
            for (const h of Object.values(p.histograms)) assert.ok(h.buckets.every((b) => b >= 0));
          }
        }
        for (const gone of ['a', 'b', 'c'].filter((k) => !(listed as string[]).includes(k)))
          assert.equal(state.vm(gone), undefined);
      });
    }),
    { numRuns: 200 },
  );
});
