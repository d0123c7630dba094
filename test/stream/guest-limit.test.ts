/**
 * One guest-memory limit per host (Host.limits, `hvkit host --max-guest-memory`): a domain over it
 * is refused alike whether created, restored from a stream file or migrated in, with a usage
 * error naming the limit — and nothing is created.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.ts';
import { encodeStream } from '../../src/formats/stream/index.ts';
import { Host } from '../../src/host/host.ts';
import { migrate } from '../../src/host/migration/migrate.ts';
import { restoreDomain } from '../../src/host/migration/save-restore.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { ChildHost } from './child-host.ts';
import { TestHost, tempDir } from './helpers.ts';
import { sampleImage } from './image-fixtures.ts';

const OVER_LIMIT = /guest memory 4 MiB is over this host's limit of 2 MiB \(hvkit host --max-guest-memory\)/;

test('create and restore over the host limit are refused naming it; nothing is created', async () => {
  const host = Host.start({ backend: new SimBackend(), ownsBackend: true, limits: { maxGuestMemoryMiB: 2 } });
  const tmp = tempDir();
  try {
    assert.equal(host.limits.maxGuestMemoryMiB, 2);
    await assert.rejects(
      host.createDomain({ vcpus: 1, memoryMiB: 4, workload: 'compute' }),
      (e: unknown) => e instanceof UsageError && OVER_LIMIT.test(e.message),
    );
    const file = join(tmp.dir, 'big.hvst');
    writeFileSync(file, encodeStream(sampleImage({ memoryMiB: 4, vcpus: 1 })));
    await assert.rejects(
      restoreDomain(host, file),
      (e: unknown) => e instanceof UsageError && OVER_LIMIT.test(e.message),
    );
    assert.deepEqual(host.list(), []);
    // At the limit is fine.
    await host.createDomain({ vcpus: 1, memoryMiB: 2, workload: 'compute' });
  } finally {
    await host.stop();
    tmp.remove();
  }
});

test('a migration over the destination host limit is refused naming it; the source runs on', async () => {
  const tmp = tempDir();
  const dst = await ChildHost.start('sim', join(tmp.dir, 'dst.sock'), ['--max-guest-memory', '2']);
  const src = new TestHost('sim');
  try {
    const dom = await src.host.createDomain({ vcpus: 1, memoryMiB: 4, workload: 'compute' });
    await assert.rejects(migrate(src.host, dom.domid, dst.address, { timeoutMs: 5000 }), OVER_LIMIT);
    assert.equal(src.host.domain(dom.domid)?.state, 'running');
    assert.deepEqual(await dst.list(), []);
  } finally {
    await src.stop();
    await dst.stop();
    tmp.remove();
  }
});

test('a limit the backends could never honour is refused before the host starts', () => {
  for (const bad of [0, 4097, 1.5]) {
    assert.throws(
      () => Host.start({ backend: new SimBackend(), ownsBackend: true, limits: { maxGuestMemoryMiB: bad } }),
      (e: unknown) => e instanceof UsageError && /guest memory limit must be 1\.\.4096 MiB/.test(e.message),
    );
  }
});
