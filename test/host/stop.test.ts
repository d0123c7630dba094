/**
 * Stopping a host while a domain is still being created: the creation finishes, its domain is
 * destroyed with the rest, and nothing the host published is left under /dev/shm.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { Host } from '../../src/host/host.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';

test('stop() waits for a creation in flight and destroys its domain', async () => {
  const backend = new SimBackend();
  const host = Host.start({ backend });
  try {
    await host.createDomain({ name: 'first', vcpus: 1, memoryMiB: 2, workload: 'compute' });
    const inFlight = host.createDomain({ name: 'late', vcpus: 2, memoryMiB: 2, workload: 'io' });
    const stopped = host.stop();
    const late = await inFlight;
    await stopped;
    assert.equal(late.name, 'late');
    assert.deepEqual(host.list(), []);
    const prefix = `hvkit.${host.identity.pid}.${host.identity.startTime}.`;
    assert.deepEqual(
      readdirSync('/dev/shm').filter((f) => f.startsWith(prefix)),
      [],
      'no region of this host is left',
    );
    await assert.rejects(host.createDomain({ vcpus: 1, memoryMiB: 2, workload: 'compute' }), /the host is stopping/);
  } finally {
    await host.stop();
    await backend.close();
  }
});
