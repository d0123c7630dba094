/**
 * Live migration between two host processes (this one and a child host), shared by
 * migration.test.ts (simulated backend) and migration.kvm.test.ts (real KVM): a source and a
 * destination host with one running domain, and the tests that run on either backend.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate } from '../../src/host/migration/migrate.ts';
import { REPORT } from '../../src/vmm/guest-abi.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { ChildHost } from './child-host.ts';
import { type BackendName, reportsSettled, TestHost, tempDir } from './helpers.ts';

export async function withPair(
  backend: BackendName,
  at: (dir: string) => string,
  extra: string[],
  fn: (src: TestHost, dst: ChildHost, domid: number, uniqueId: bigint) => Promise<void>,
): Promise<void> {
  const tmp = tempDir();
  const src = new TestHost(backend);
  let dst: ChildHost | undefined;
  try {
    dst = await ChildHost.start(backend, at(tmp.dir), extra);
    const dom = await src.host.createDomain({ name: 'mig', vcpus: 2, memoryMiB: 2, workload: 'mixed' });
    await src.rounds(dom.uniqueId, 2, 2);
    await fn(src, dst, dom.domid, dom.uniqueId);
  } finally {
    await dst?.stop().catch(() => {});
    await src.stop();
    tmp.remove();
  }
}

export const lastRound = (src: TestHost, uniqueId: bigint, vcpu: number) =>
  Number(
    src
      .reports(uniqueId, vcpu)
      .filter(([c]) => c === REPORT.ROUND)
      .at(-1)?.[1] ?? 0n,
  );

/** The source domain still runs: it is `running` and keeps reporting rounds. */
export async function assertSourceRuns(src: TestHost, domid: number, uniqueId: bigint): Promise<void> {
  assert.equal(src.host.domain(domid)?.state, 'running', 'the source domain is running');
  const before = lastRound(src, uniqueId, 0);
  await src.until(() => lastRound(src, uniqueId, 0) > before, 10_000, 'the source to go on');
}

/** The migration tests that run on either backend (migration.test.ts: sim, migration.kvm.test.ts: KVM). */
export function registerMigrationTests(backend: BackendName): void {
  for (const transport of ['unix', 'tcp'] as const) {
    test(`${backend} over ${transport}: the guest continues on the destination, the source is gone`, async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const at = (dir: string) => (transport === 'unix' ? join(dir, 'dst.sock') : '127.0.0.1:0');
      await withPair(backend, at, [], async (src, dst, domid, uniqueId) => {
        const result = await migrate(src.host, domid, dst.address);
        assert.equal(result.version, 2);
        assert.equal(src.host.domain(domid), undefined, 'the source domain was destroyed');
        await reportsSettled(src, uniqueId);
        const rounds = [lastRound(src, uniqueId, 0), lastRound(src, uniqueId, 1)];
        const [remote] = await dst.list();
        assert.ok(remote, 'the destination has the domain');
        assert.equal(remote.domid, result.remoteDomid);
        assert.equal(remote.name, 'mig');
        assert.equal(remote.state, 'running');
        let seen: Record<number, number[]> = {};
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          seen = await dst.ask(`rounds ${remote.uniqueId}`);
          if ((seen[0]?.length ?? 0) >= 2 && (seen[1]?.length ?? 0) >= 2) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const v of [0, 1]) {
          assert.ok(seen[v] && seen[v].length >= 2, `vCPU ${v} runs on the destination`);
          assert.equal(seen[v]![0], rounds[v]! + 1, `vCPU ${v}: ROUND continues from the source's last`);
        }
      });
    });
  }
}
