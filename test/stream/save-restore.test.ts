/**
 * save → restore on the simulated backend (the tests that run on either backend are in
 * save-restore.cases.ts, on real KVM in save-restore.kvm.test.ts), and saving a paused domain.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { restoreDomain, saveDomain } from '../../src/host/migration/save-restore.ts';
import { TestHost, tempDir } from './helpers.ts';
import { registerSaveRestoreTests } from './save-restore.cases.ts';

registerSaveRestoreTests('sim');

test('sim: saving a paused domain leaves it paused and the image restores paused', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await h.rounds(dom.uniqueId, 1, 1);
    await h.host.pause(dom.domid);
    const file = join(tmp.dir, 'p.hvst');
    await saveDomain(h.host, dom.domid, file);
    assert.equal(h.host.domain(dom.domid)?.state, 'paused');
    const r = await restoreDomain(h.host, file);
    assert.equal(r.domain.state, 'paused');
    assert.ok(existsSync(file));
  } finally {
    await h.stop();
    tmp.remove();
  }
});
