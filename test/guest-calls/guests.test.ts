/**
 * The `calls` guest on both backends: hypercalls through (real or simulated) VM exits to the
 * dispatcher, batches of 1, 8 and 64, defined errors for reserved bits and unknown calls, hostile
 * batch headers refused, a host processing part of a batch per flush resumed by the guest, and the
 * fallback to direct calls when the host lists no batch calls. On KVM the report sequence must
 * equal the simulated guest's.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Backend } from '../../src/host/backend.ts';
import { CALLS_CONFIG, WORKLOAD } from '../../src/vmm/guest-abi.ts';
import { KvmBackend } from '../../src/vmm/kvm-backend.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { kvmSkipReason } from '../kvm/helpers.ts';
import { makeDispatcher, R, runCallsGuest } from './helpers.ts';

const ROUNDS = 2;
const PER_ROUND = WORKLOAD.CALLS_PER_ROUND;
/** Calls the guest makes besides its rounds: 5 defined-error checks, 4 feature queries when batching. */
const startCalls = (batching: boolean) => 5 + (batching ? 4 : 0);

const sim = new SimBackend();
let kvm: KvmBackend | undefined;
after(async () => {
  await sim.close();
  await kvm?.close();
});

const simSequences = new Map<string, unknown>();

function suite(name: string, backend: () => Backend | undefined, skip: () => string | undefined) {
  describe(`calls guest on ${name}`, () => {
    for (const batch of [0, 1, 8, 64]) {
      test(`batch size ${batch}: every result checked by the guest and counted by the VMM`, async (t) => {
        const why = skip();
        if (why) return t.skip(why);
        const run = await runCallsGuest(backend()!, { arg: batch, rounds: ROUNDS, vcpus: 2, calls: makeDispatcher() });
        assert.deepEqual(run.crashed, []);
        for (let v = 0; v < 2; v++) {
          const r = run.reports[v]!;
          assert.equal(r.get(R.BATCH_SIZE), BigInt(batch));
          assert.equal(r.get(R.CALL_ERRORS), 0n, `vcpu ${v}: the guest saw only expected results`);
          assert.equal(r.get(R.CALLS), BigInt(startCalls(batch > 0) + ROUNDS * (PER_ROUND + 1)));
          const flushes = batch === 0 ? 0 : ROUNDS * Math.ceil(PER_ROUND / batch);
          assert.equal(r.get(R.FLUSHES), BigInt(flushes));
          // Exits to the hypercall port: direct calls (queued ones travel in flushes) + registration.
          const direct = batch === 0 ? Number(r.get(R.CALLS)) : startCalls(true) + ROUNDS + 1;
          assert.equal(run.counters[v]!.get('exits.hypercalls'), BigInt(direct + flushes));
        }
        const key = `batch${batch}`;
        if (name === 'sim') simSequences.set(key, run.sequences);
        else if (simSequences.has(key)) assert.deepEqual(run.sequences, simSequences.get(key), 'same reports as sim');
      });
    }

    test('hostile batch headers and entries get the defined errors; the VMM survives', async (t) => {
      const why = skip();
      if (why) return t.skip(why);
      const calls = makeDispatcher();
      const run = await runCallsGuest(backend()!, { arg: 64 | CALLS_CONFIG.HOSTILE, rounds: 1, calls, memoryMiB: 4 });
      assert.deepEqual(run.crashed, []);
      const r = run.reports[0]!;
      assert.equal(r.get(R.REFUSED), 7n, 'every hostile case refused');
      assert.equal(r.get(R.CALL_ERRORS), 0n);
      assert.equal(r.get(R.DONE), 1n, 'the guest ran on to the end after the hostile cases');
    });

    test('a host processing 5 entries per flush is resumed by the guest to completion', async (t) => {
      const why = skip();
      if (why) return t.skip(why);
      const run = await runCallsGuest(backend()!, { arg: 64, rounds: ROUNDS, budget: 5, calls: makeDispatcher() });
      const r = run.reports[0]!;
      assert.equal(r.get(R.CALL_ERRORS), 0n, 'every entry completed with its own result');
      assert.equal(r.get(R.FLUSHES), BigInt(ROUNDS * (PER_ROUND / 64) * Math.ceil(64 / 5)));
    });

    test('without batch calls in the feature query the guest falls back to direct calls', async (t) => {
      const why = skip();
      if (why) return t.skip(why);
      const run = await runCallsGuest(backend()!, { arg: 8, rounds: 1, calls: makeDispatcher({ batch: false }) });
      const r = run.reports[0]!;
      assert.equal(r.get(R.BATCH_SIZE), 0n);
      assert.equal(r.get(R.FLUSHES), 0n);
      assert.equal(r.get(R.CALL_ERRORS), 0n);
    });

    test('without a core family (no feature query) the guest also falls back', async (t) => {
      const why = skip();
      if (why) return t.skip(why);
      const run = await runCallsGuest(backend()!, { arg: 8, rounds: 1, calls: makeDispatcher({ core: false }) });
      const r = run.reports[0]!;
      assert.equal(r.get(R.BATCH_SIZE), 0n);
      assert.equal(r.get(R.CALL_ERRORS), 0n);
    });
  });
}

suite(
  'sim',
  () => sim,
  () => undefined,
);
suite(
  'kvm',
  () => {
    kvm ??= KvmBackend.open();
    return kvm;
  },
  () => kvmSkipReason(),
);
