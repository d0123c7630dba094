import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kvmUnavailableReason } from '../../src/kvm/system.ts';
import { selectBackend } from '../../src/vmm/select.ts';

test('HVKIT_BACKEND=sim forces the simulated backend and says so', () => {
  assert.deepEqual(selectBackend({ HVKIT_BACKEND: 'sim' }), { kind: 'sim', reason: 'HVKIT_BACKEND=sim' });
});

test('an unknown HVKIT_BACKEND is a UsageError naming the allowed values', () => {
  assert.throws(() => selectBackend({ HVKIT_BACKEND: 'xen' }), { name: 'UsageError', message: /sim or kvm/ });
});

test('by default: KVM when /dev/kvm is usable, else sim with the reason', () => {
  const choice = selectBackend({});
  const why = kvmUnavailableReason();
  assert.equal(choice.kind, why === undefined ? 'kvm' : 'sim');
  if (why) assert.match(choice.reason, /KVM is not usable/);
  if (why) assert.throws(() => selectBackend({ HVKIT_BACKEND: 'kvm' }), { name: 'UsageError' });
  else assert.equal(selectBackend({ HVKIT_BACKEND: 'kvm' }).kind, 'kvm');
});
