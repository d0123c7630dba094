/**
 * Every call a host serves is named in the newest frozen call-word revision, under the name it is
 * registered with, and tools (`hvkit ctl features`) print that name — never a bare number.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callName, familyName } from '../../src/ctl/names.ts';
import { shippedCallWordAbi } from '../../src/formats/callword/abi.ts';
import { createHostDispatcher } from '../../src/host/calls-host.ts';
import { Host } from '../../src/host/host.ts';
import { standardInstallers } from '../../src/host/services.ts';
import { simBackend } from '../host/sim-backend.ts';

test('every call a full host serves is named in the newest frozen call-word revision', async () => {
  const abi = shippedCallWordAbi();
  const values = (enumName: string) => abi.enums.find((e) => e.name === enumName)?.values.filter((v) => !v.retired);
  const host = Host.start({ backend: simBackend(), ownsBackend: true });
  const calls = createHostDispatcher(host, standardInstallers());
  try {
    const served = calls.dispatcher.features().all();
    assert.ok(served.length > 0);
    const unnamed: string[] = [];
    for (const c of served) {
      const family = values('family')?.find((v) => v.value === c.family);
      const call = family && values(`${family.name}_call`)?.find((v) => v.value === c.call);
      if (!family || !call) {
        unnamed.push(`${c.name} (family ${c.family}, call ${c.call})`);
        continue;
      }
      assert.equal(`${family.name}.${call.name}`, c.name, 'the registered name is the ABI name');
      assert.equal(callName(c.family, c.call), c.name, 'tools print the ABI name');
      assert.equal(familyName(c.family), family.name);
    }
    assert.deepEqual(unnamed, [], `served but not in call-word revision ${abi.revision}`);
  } finally {
    await calls.close();
    await host.stop();
  }
});
