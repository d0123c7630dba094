/**
 * A real saved stream truncated at every length and with a byte flipped at every offset is refused
 * before anything is applied; registered per backend by corruption.test.ts (simulated) and
 * corruption.kvm.test.ts (real KVM).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyStream } from '../../src/formats/stream/index.ts';
import { restoreDomain, restoreImage, saveDomain } from '../../src/host/migration/save-restore.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { type BackendName, TestHost, tempDir } from './helpers.ts';

/** The corruption test that runs on either backend (corruption.test.ts: sim, corruption.kvm.test.ts: KVM). */
export function registerCorruptionTests(backend: BackendName): void {
  test(`${backend}: truncation at every length and a flipped byte at every offset are refused, nothing applied`, async (t) => {
    if (backend === 'kvm' && skipWithoutKvm(t)) return;
    const h = new TestHost(backend);
    const tmp = tempDir();
    try {
      const dom = await h.host.createDomain({ name: 'victim', vcpus: 2, memoryMiB: 2, workload: 'mixed' });
      await h.rounds(dom.uniqueId, 2, 2);
      const file = join(tmp.dir, 'good.hvst');
      await saveDomain(h.host, dom.domid, file);
      await h.host.destroy(dom.domid);
      const good = new Uint8Array(readFileSync(file));
      verifyStream(good); // the original is fine
      t.diagnostic(`${backend} stream: ${good.length} bytes`);
      const created = () => h.events.filter((e) => e.kind === 'created').length;
      const before = created();

      let refused = 0;
      const tryRestore = async (bytes: Uint8Array, viaFile: boolean) => {
        if (viaFile) {
          const bad = join(tmp.dir, 'bad.hvst');
          writeFileSync(bad, bytes);
          await assert.rejects(restoreDomain(h.host, bad));
        } else await assert.rejects(async () => restoreImage(h.host, verifyStream(bytes)));
        refused++;
      };
      for (let n = 0; n < good.length; n++) await tryRestore(good.subarray(0, n), n % 16 === 0);
      for (let at = 0; at < good.length; at++) {
        const bad = new Uint8Array(good);
        bad[at]! ^= 0xff;
        await tryRestore(bad, at % 16 === 0);
      }
      assert.equal(refused, 2 * good.length);
      assert.equal(created(), before, 'no domain was ever created');
      assert.deepEqual(h.host.list(), []);
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['bad.hvst', 'good.hvst'], 'no other file appeared');
      // And the good stream still restores.
      const r = await restoreDomain(h.host, file);
      assert.equal(r.domain.state, 'running');
    } finally {
      await h.stop();
      tmp.remove();
    }
  });
}
