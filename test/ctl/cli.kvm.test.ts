/** `hvkit host` on real KVM in a child process, `hvkit ctl` in others, through the control socket. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { ctl, json, startHost, stopHost } from './host-process.ts';

test('KVM host: a micro-VM created, listed and destroyed through the control socket', async (t) => {
  if (skipWithoutKvm(t)) return;
  const h = await startHost({ HVKIT_BACKEND: 'kvm' }, []);
  try {
    assert.equal(h.backend, 'kvm');
    const created = json<{ domid: number; state: string }>(
      ctl(h.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'mixed', '--json']),
    );
    assert.equal(created.state, 'running');
    assert.deepEqual(
      json<{ domid: number }[]>(ctl(h.pid, ['list', '--json'])).map((d) => d.domid),
      [created.domid],
    );
    assert.equal(json<{ state: string }>(ctl(h.pid, ['shutdown', String(created.domid), '--json'])).state, 'shutdown');
    assert.equal(json<{ state: string }>(ctl(h.pid, ['destroy', String(created.domid), '--json'])).state, 'destroyed');
  } finally {
    await stopHost(h);
  }
});
