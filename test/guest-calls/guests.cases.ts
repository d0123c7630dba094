/**
 * The `calls` guest tests, registered per backend: guests.test.ts runs them on the simulated
 * backend, guests.kvm.test.ts on real KVM, where each batch size's report sequences must also
 * equal the simulated guest's (run right there as the reference).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Backend } from '../../src/vmm/backend.ts';
import { CALLS_CONFIG, WORKLOAD } from '../../src/vmm/guest-abi.ts';
import { KvmBackend } from '../../src/vmm/kvm-backend.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { makeDispatcher, R, runCallsGuest } from './helpers.ts';

const ROUNDS = 2;
const PER_ROUND = WORKLOAD.CALLS_PER_ROUND;
/** Calls the guest makes besides its rounds: 5 defined-error checks, 4 feature queries when batching. */
const startCalls = (batching: boolean) => 5 + (batching ? 4 : 0);

export function registerCallsTests(name: 'sim' | 'kvm'): void {
  let opened: Backend | undefined;
  /** The simulated backend the KVM guests' report sequences are compared with. */
  let reference: SimBackend | undefined;
  after(async () => {
    await opened?.close();
    await reference?.close();
  });
  const backend = (): Backend => {
    opened ??= name === 'kvm' ? KvmBackend.open() : new SimBackend();
    return opened;
  };
  const skipped = (t: Parameters<typeof skipWithoutKvm>[0]) => name === 'kvm' && skipWithoutKvm(t);

  describe(`calls guest on ${name}`, () => {
    for (const batch of [0, 1, 8, 64]) {
      test(`batch size ${batch}: every result checked by the guest and counted by the VMM`, async (t) => {
        if (skipped(t)) return;
        const options = () => ({ arg: batch, rounds: ROUNDS, vcpus: 2, calls: makeDispatcher() });
        const run = await runCallsGuest(backend(), options());
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
        if (name === 'kvm') {
          reference ??= new SimBackend();
          const sim = await runCallsGuest(reference, options());
          assert.deepEqual(run.sequences, sim.sequences, 'same reports as sim');
        }
      });
    }

    test('hostile batch headers and entries get the defined errors; the VMM survives', async (t) => {
      if (skipped(t)) return;
      const calls = makeDispatcher();
      const run = await runCallsGuest(backend(), { arg: 64 | CALLS_CONFIG.HOSTILE, rounds: 1, calls, memoryMiB: 4 });
      assert.deepEqual(run.crashed, []);
      const r = run.reports[0]!;
      assert.equal(r.get(R.REFUSED), 7n, 'every hostile case refused');
      assert.equal(r.get(R.CALL_ERRORS), 0n);
      assert.equal(r.get(R.DONE), 1n, 'the guest ran on to the end after the hostile cases');
    });

    test('a host processing 5 entries per flush is resumed by the guest to completion', async (t) => {
      if (skipped(t)) return;
      const run = await runCallsGuest(backend(), { arg: 64, rounds: ROUNDS, budget: 5, calls: makeDispatcher() });
      const r = run.reports[0]!;
      assert.equal(r.get(R.CALL_ERRORS), 0n, 'every entry completed with its own result');
      assert.equal(r.get(R.FLUSHES), BigInt(ROUNDS * (PER_ROUND / 64) * Math.ceil(64 / 5)));
    });

    test('without batch calls in the feature query the guest falls back to direct calls', async (t) => {
      if (skipped(t)) return;
      const run = await runCallsGuest(backend(), { arg: 8, rounds: 1, calls: makeDispatcher({ batch: false }) });
      const r = run.reports[0]!;
      assert.equal(r.get(R.BATCH_SIZE), 0n);
      assert.equal(r.get(R.FLUSHES), 0n);
      assert.equal(r.get(R.CALL_ERRORS), 0n);
    });

    test('without a core family (no feature query) the guest also falls back', async (t) => {
      if (skipped(t)) return;
      const run = await runCallsGuest(backend(), { arg: 8, rounds: 1, calls: makeDispatcher({ core: false }) });
      const r = run.reports[0]!;
      assert.equal(r.get(R.BATCH_SIZE), 0n);
      assert.equal(r.get(R.CALL_ERRORS), 0n);
    });
  });
}
