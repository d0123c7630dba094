/**
 * A failure whose clean-up fails too is never reported as a plain failure: a restore whose new
 * domain cannot be destroyed says the domain still exists; a save whose domain cannot be unpaused
 * says it stays paused. The clean-up failure is provoked on a real host by making its destroy
 * (or unpause) refuse for the duration of the call — the one stand-in here: a real backend has
 * no way to fail on demand.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EnvironmentError, UsageError } from '../../src/errors.ts';
import type { PoolStreamHooks } from '../../src/host/migration/hooks.ts';
import { LeftoverDomainError } from '../../src/host/migration/leftover.ts';
import { readStreamFile, restoreImage, saveDomain } from '../../src/host/migration/save-restore.ts';
import { TestHost, tempDir } from './helpers.ts';

/** Pool hooks whose restore step fails (after the domain was created). */
const failingPools: PoolStreamHooks = {
  format: 1,
  snapshot: () => new Uint8Array([1, 2, 3, 4]),
  validate: () => {},
  restore: () => {
    throw new UsageError('the pool service refused the snapshot');
  },
  discard: () => {},
};

test('a restore whose new domain cannot be destroyed says the domain still exists', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    const file = join(tmp.dir, 'p.hvst');
    await saveDomain(h.host, dom.domid, file, { pools: failingPools });
    const image = await readStreamFile(file);
    const host = h.host;
    host.destroy = () => Promise.reject(new EnvironmentError('the backend did not answer'));
    try {
      await assert.rejects(restoreImage(host, image, { pools: failingPools }), (e: unknown) => {
        assert.ok(e instanceof LeftoverDomainError, String(e));
        assert.equal(e.domid, 2);
        assert.match(
          e.message,
          /^restore failed \(the pool service refused the snapshot\) and the partly created domain 2 could not be destroyed: the backend did not answer$/,
        );
        return true;
      });
    } finally {
      Reflect.deleteProperty(host, 'destroy');
    }
    assert.ok(host.domain(2), 'the domain is still there, as the error says');
  } finally {
    await h.stop();
    tmp.remove();
  }
});

test('a restore whose new domain is destroyed reports the failure itself', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    const file = join(tmp.dir, 'p.hvst');
    await saveDomain(h.host, dom.domid, file, { pools: failingPools });
    await assert.rejects(restoreImage(h.host, await readStreamFile(file), { pools: failingPools }), UsageError);
    assert.equal(h.host.domain(2), undefined);
  } finally {
    await h.stop();
    tmp.remove();
  }
});

test('a save that fails and cannot unpause the domain says it stays paused', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  try {
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    const host = h.host;
    host.unpause = () => Promise.reject(new EnvironmentError('the backend did not answer'));
    try {
      await assert.rejects(
        saveDomain(host, dom.domid, join(tmp.dir, 's.hvst'), {
          onWrite: () => {
            throw new EnvironmentError('disk full');
          },
        }),
        (e: unknown) => {
          assert.ok(e instanceof LeftoverDomainError, String(e));
          assert.match(e.message, /^save of domain 1 failed \(disk full\) and the domain could not be unpaused/);
          return true;
        },
      );
    } finally {
      Reflect.deleteProperty(host, 'unpause');
    }
    assert.equal(host.domain(dom.domid)?.state, 'paused');
  } finally {
    await h.stop();
    tmp.remove();
  }
});
