/**
 * save → restore continues the guest exactly: the reports of the saved domain up to the save,
 * followed by the restored domain's, are exactly the reports an uninterrupted run sends — ROUND
 * numbers continue without a jump or a reset, and the final HALTS, IO_OPS, CHECKSUM and REPORTS
 * (the guest's own counters) match. Registered per backend by save-restore.test.ts (simulated)
 * and save-restore.kvm.test.ts (real KVM).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readStreamFile, restoreDomain, saveDomain } from '../../src/host/migration/save-restore.ts';
import { REPORT } from '../../src/vmm/guest-abi.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { referenceReports } from '../vmm/helpers.ts';
import { type BackendName, reportsSettled, TestHost, tempDir } from './helpers.ts';

const ROUNDS = { compute: 40, mixed: 40, io: 24 } as const;

/** The save/restore tests that run on either backend (save-restore.test.ts: sim, save-restore.kvm.test.ts: KVM). */
export function registerSaveRestoreTests(backend: BackendName): void {
  for (const workload of ['compute', 'mixed', 'io'] as const) {
    test(`${backend}: save then restore of a ${workload} guest continues its counters exactly`, async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const h = new TestHost(backend);
      const tmp = tempDir();
      try {
        const rounds = ROUNDS[workload];
        const vcpus = 2;
        const dom = await h.host.createDomain({ name: 'saved', vcpus, memoryMiB: 2, workload, vmm: { rounds } });
        await h.rounds(dom.uniqueId, vcpus, 3);
        const file = join(tmp.dir, 'dom.hvst');
        const saved = await saveDomain(h.host, dom.domid, file, { leavePaused: true });
        assert.equal(saved.version, 2);
        assert.deepEqual(readdirSync(tmp.dir), ['dom.hvst'], 'no temporary file is left');
        // Reports still in flight from before the pause arrive; then the source goes away.
        await reportsSettled(h, dom.uniqueId);
        await h.host.destroy(dom.domid);
        const before = Array.from({ length: vcpus }, (_, v) => h.reports(dom.uniqueId, v));

        const image = await readStreamFile(file);
        assert.equal(image.domain.cpu, backend);
        const restored = await restoreDomain(h.host, file);
        assert.notEqual(restored.domain.uniqueId, dom.uniqueId, 'a restored domain gets a new unique id');
        assert.equal(restored.domain.state, 'running');
        await h.shutdown(restored.domain.uniqueId);
        let finished = 0;
        for (let v = 0; v < vcpus; v++) {
          const after = h.reports(restored.domain.uniqueId, v);
          const firstRound = after.find(([c]) => c === REPORT.ROUND);
          const lastRoundBefore = before[v]!.filter(([c]) => c === REPORT.ROUND).at(-1);
          if (firstRound && lastRoundBefore)
            assert.equal(firstRound[1], lastRoundBefore[1] + 1n, `vCPU ${v}: ROUND continues`);
          assert.ok(!after.some(([c]) => c === REPORT.START), `vCPU ${v}: the restored guest does not start over`);
          const whole = [...before[v]!, ...after];
          const reference = referenceReports(workload, v, rounds);
          // The first vCPU to finish shuts the domain down: the others may stop a little earlier.
          assert.deepEqual(whole, reference.slice(0, whole.length), `vCPU ${v}: report sequence`);
          if (whole.length === reference.length) finished++;
        }
        assert.ok(finished >= 1, 'a vCPU ran to its DONE report with the reference counters');
      } finally {
        await h.stop();
        tmp.remove();
      }
    });
  }
}
