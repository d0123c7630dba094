/** A backend forgets a domain once it is destroyed: re-creating domains for days holds only live ones. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { createTestDomain, eventually } from './helpers.ts';

test('destroyed domains are dropped by the backend', async () => {
  const backend = new SimBackend();
  try {
    const a = await createTestDomain(backend, 'compute', { vcpus: 1 });
    const b = await createTestDomain(backend, 'io', { vcpus: 1 });
    assert.equal(backend.liveDomains, 2);
    const domid = a.runtime.config.domid;
    assert.ok(backend.domainRuntime(domid));
    await a.close();
    assert.ok(await eventually(() => backend.liveDomains === 1), 'the destroyed domain is forgotten');
    assert.equal(backend.domainRuntime(domid), undefined);
    await b.close();
    assert.ok(await eventually(() => backend.liveDomains === 0));
  } finally {
    await backend.close();
  }
});
