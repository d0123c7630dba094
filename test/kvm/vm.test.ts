/** KvmSystem without a KVM device (no KVM needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvmSystem } from '../../src/kvm/system.ts';

test('a missing KVM device is reported, not crashed on', () => {
  assert.throws(() => KvmSystem.open('/dev/no-such-kvm-device'), /ENOENT/);
});
