import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { CAPTURE_GUEST_PORT, loadCaptureGuest, runCaptureGuest } from '../../src/kvm/capture-guest.ts';
import { KVM_CAP_BINARY_STATS_FD, KVM_CAP_USER_MEMORY } from '../../src/kvm/constants.ts';
import { runUntilHalt } from '../../src/kvm/run-loop.ts';
import { KvmSystem } from '../../src/kvm/system.ts';
import { kvmFds, skipWithoutKvm } from './helpers.ts';

/** kvm_run areas show up in /proc/self/maps as mappings of the vCPU's anon inode. */
function kvmRunMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:kvm-vcpu:')).length;
}

test('/dev/kvm speaks API 12 and offers binary stats fds', (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  try {
    assert.equal(kvm.apiVersion, 12);
    assert.ok(kvm.checkExtension(KVM_CAP_BINARY_STATS_FD) > 0);
    assert.ok(kvm.checkExtension(KVM_CAP_USER_MEMORY) > 0);
    assert.ok(kvm.vcpuMmapSize >= 4096);
  } finally {
    kvm.close();
  }
});

test('the capture guest runs on every vCPU: its OUTs reach userspace in order, then it halts', (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  const vm = kvm.createVm();
  try {
    loadCaptureGuest(vm);
    for (const writes of [0, 1, 5]) {
      const run = runCaptureGuest(vm.createVcpu(), writes);
      assert.equal(run.ioExits, writes);
      assert.equal(run.haltExits, 1);
      assert.equal(run.exits, writes + 1);
      assert.deepEqual(
        run.io.map((a) => [a.direction, a.port, a.size, a.values]),
        Array.from({ length: writes }, (_, i) => ['out', CAPTURE_GUEST_PORT, 1, [i]]),
      );
    }
    // Entered again after its halt, the guest halts straight away.
    const again = runUntilHalt(vm.vcpus[2]!);
    assert.deepEqual([again.exits, again.ioExits, again.haltExits], [1, 0, 1]);
  } finally {
    vm.close();
    kvm.close();
  }
});

test('stats fds are the kernel anon inodes for the VM and each vCPU', (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  const vm = kvm.createVm();
  try {
    vm.createVcpu();
    vm.createVcpu();
    assert.equal(readlinkSync(`/proc/self/fd/${vm.fd}`), 'anon_inode:kvm-vm');
    assert.equal(readlinkSync(`/proc/self/fd/${vm.statsFd}`), 'anon_inode:kvm-vm-stats');
    assert.equal(readlinkSync(`/proc/self/fd/${vm.vcpus[1]!.fd}`), 'anon_inode:kvm-vcpu:1');
    assert.equal(readlinkSync(`/proc/self/fd/${vm.vcpus[1]!.statsFd}`), 'anon_inode:kvm-vcpu-stats:1');
    // Opened once, then reused.
    assert.equal(vm.statsFd, vm.statsFd);
    assert.equal(vm.vcpus[0]!.statsFd, vm.vcpus[0]!.statsFd);
  } finally {
    vm.close();
    kvm.close();
  }
});

test('close() releases every KVM fd and mapping, and is idempotent', (t) => {
  if (skipWithoutKvm(t)) return;
  const before = kvmFds();
  const mappingsBefore = kvmRunMappings();
  const kvm = KvmSystem.open();
  const vm = kvm.createVm();
  loadCaptureGuest(vm);
  for (let i = 0; i < 3; i++) runCaptureGuest(vm.createVcpu(), 2);
  void vm.statsFd;
  for (const v of vm.vcpus) void v.statsFd;
  // /dev/kvm + VM + VM stats + 3 × (vCPU + vCPU stats), and one kvm_run mapping per vCPU
  assert.equal(kvmFds().length, before.length + 9);
  assert.equal(kvmRunMappings(), mappingsBefore + 3);
  vm.close();
  kvm.close();
  assert.deepEqual(kvmFds(), before);
  assert.equal(kvmRunMappings(), mappingsBefore);
  vm.close();
  kvm.close();
  assert.throws(() => vm.createVcpu(), /closed/);
  assert.throws(() => vm.statsFd, /closed/);
  assert.throws(() => vm.vcpus[0]!.statsFd, /closed/);
  assert.throws(() => kvm.createVm(), /closed/);
});

test('creating the same vCPU id twice is a SyscallError (EEXIST) and leaks nothing', (t) => {
  if (skipWithoutKvm(t)) return;
  const before = kvmFds();
  const kvm = KvmSystem.open();
  const vm = kvm.createVm();
  try {
    vm.createVcpu(0);
    assert.throws(() => vm.createVcpu(0), { name: 'SyscallError', code: 'EEXIST' });
  } finally {
    vm.close();
    kvm.close();
  }
  assert.deepEqual(kvmFds(), before);
});
