/**
 * Live migration between two host processes (this one and a child host) over a unix socket and
 * loopback TCP: the guest continues on the destination where it stopped; and failures — the
 * destination dying mid-stream, a corrupted stream, a destination that refuses — leave the
 * source domain running and the destination without any domain.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate } from '../../src/host/migration/migrate.ts';
import { REPORT } from '../../src/vmm/guest-abi.ts';
import { ChildHost } from './child-host.ts';
import { type BackendName, kvmSkip, TestHost, tempDir } from './helpers.ts';

async function withPair(
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

const lastRound = (src: TestHost, uniqueId: bigint, vcpu: number) =>
  Number(
    src
      .reports(uniqueId, vcpu)
      .filter(([c]) => c === REPORT.ROUND)
      .at(-1)?.[1] ?? 0n,
  );

/** The source domain still runs: it is `running` and keeps reporting rounds. */
async function assertSourceRuns(src: TestHost, domid: number, uniqueId: bigint): Promise<void> {
  assert.equal(src.host.domain(domid)?.state, 'running', 'the source domain is running');
  const before = lastRound(src, uniqueId, 0);
  await src.until(() => lastRound(src, uniqueId, 0) > before, 10_000, 'the source to go on');
}

for (const backend of ['sim', 'kvm'] as BackendName[]) {
  for (const transport of ['unix', 'tcp'] as const) {
    test(`${backend} over ${transport}: the guest continues on the destination, the source is gone`, async (t) => {
      if (backend === 'kvm' && kvmSkip()) return t.skip(kvmSkip());
      const at = (dir: string) => (transport === 'unix' ? join(dir, 'dst.sock') : '127.0.0.1:0');
      await withPair(backend, at, [], async (src, dst, domid, uniqueId) => {
        const result = await migrate(src.host, domid, dst.address);
        assert.equal(result.version, 2);
        assert.equal(src.host.domain(domid), undefined, 'the source domain was destroyed');
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

test('sim: the destination dies mid-stream: the source runs on', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    ['--die-after', '200'],
    async (src, dst, domid, uniqueId) => {
      await assert.rejects(
        migrate(src.host, domid, dst.address, { timeoutMs: 5000 }),
        /closed|reset|EPIPE|ECONNRESET/i,
      );
      await assertSourceRuns(src, domid, uniqueId);
      const deadline = Date.now() + 5000;
      while (!dst.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(dst.exited, 'the destination process is gone');
    },
  );
});

test('sim: a corrupted stream is refused by the destination: the source runs on, the destination is clean', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    [],
    async (src, dst, domid, uniqueId) => {
      // Flip one byte of the first vCPU record's body (offset 32 + 16 + 48 + 16 + 8).
      const target = 32 + 16 + 48 + 16 + 8;
      const transform = (piece: Uint8Array, offset: number) => {
        if (target < offset || target >= offset + piece.length) return piece;
        const copy = new Uint8Array(piece);
        copy[target - offset]! ^= 0x40;
        return copy;
      };
      await assert.rejects(migrate(src.host, domid, dst.address, { transform }), /bad-checksum/);
      await assertSourceRuns(src, domid, uniqueId);
      assert.deepEqual(await dst.list(), []);
    },
  );
});

test('sim: a destination that refuses leaves the source running and itself clean', async () => {
  await withPair(
    'sim',
    (dir) => join(dir, 'dst.sock'),
    ['--refuse', 'no room here'],
    async (src, dst, domid, uniqueId) => {
      await assert.rejects(migrate(src.host, domid, dst.address), /no room here/);
      await assertSourceRuns(src, domid, uniqueId);
      assert.deepEqual(await dst.list(), []);
    },
  );
});

test('sim: nothing listening: the source is never paused', async () => {
  const src = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await assert.rejects(
      migrate(src.host, dom.domid, join(tmp.dir, 'nobody.sock'), { timeoutMs: 2000 }),
      /cannot connect/,
    );
    assert.ok(!src.events.some((e) => e.kind === 'paused'), 'the source was not paused');
    assert.equal(src.host.domain(dom.domid)?.state, 'running');
  } finally {
    await src.stop();
    tmp.remove();
  }
});
