/**
 * Teardown on real KVM: whether a domain's vCPU workers stopped on their own or had to be
 * terminated (their finally blocks never run then), destroying it leaves nothing of its VM in
 * this process: no kvm_run mapping (a mapped kvm_run keeps the vCPU, and so the VM, alive in the
 * kernel) and no KVM fd.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { KvmSystem } from '../../src/kvm/system.ts';
import { checkDomainConfig } from '../../src/vmm/domain-options.ts';
import { buildWorkloadGuest, type GuestProgram } from '../../src/vmm/guests.ts';
import { kvmDomainPlatform } from '../../src/vmm/kvm-backend.ts';
import { WorkerDomainRuntime } from '../../src/vmm/worker-runtime.ts';
import { kvmFds, skipWithoutKvm } from '../kvm/helpers.ts';
import { eventually, threadCount } from './helpers.ts';
import {
  type Injected,
  InjectedFailure,
  injectFailures,
  settlesWithin,
  teardownDomain,
  testCalls,
} from './teardown-support.ts';

const VCPUS = 2;

/** This process's mappings of a vCPU's kvm_run area. */
function kvmRunMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes('anon_inode:kvm-vcpu'));
}

/** A domain of `program` on a real VM, its platform wrapped with `inject`, and /dev/kvm to close after. */
function kvmDomain(kvm: KvmSystem, program: GuestProgram, inject: Injected) {
  const domain = teardownDomain(program, VCPUS);
  const base = kvmDomainPlatform(kvm, domain.config, checkDomainConfig(domain.config), buildWorkloadGuest(program));
  return { domain, platform: injectFailures(base, inject) };
}

test('vCPU workers ended by terminate(): no kvm_run mapping and no fd of the VM is left', async (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  const fdsBefore = kvmFds();
  const threadsBefore = threadCount();
  const kickFailure = new InjectedFailure('kick failed');
  const { domain, platform } = kvmDomain(kvm, 'calls', { kick: kickFailure });
  try {
    const calls = testCalls({ hold: true });
    const runtime = await WorkerDomainRuntime.create(domain.config, domain.options(calls), platform);
    await runtime.start();
    await settlesWithin(calls.entered, 60_000, "the guest's first hypercall");
    // The host thread maps each kvm_run once; the workers borrow that mapping, none of their own.
    assert.equal(kvmRunMappings().length, VCPUS, `one kvm_run mapping per vCPU:\n${kvmRunMappings().join('\n')}`);
    // The stop command fails at its first kick, so destroy terminates the workers (one of them
    // sits in a held hypercall: it has not seen STOP).
    const destroying = runtime.destroy();
    calls.answer();
    await assert.rejects(settlesWithin(destroying, 60_000, 'destroy'), (e) => e === kickFailure);
    assert.equal(platform.releases, 1);
    assert.deepEqual(kvmRunMappings(), [], 'no kvm_run mapping is left');
    assert.deepEqual(kvmFds(), fdsBefore, 'every fd of the VM is closed');
    assert.ok(await eventually(() => threadCount() <= threadsBefore), 'the worker threads are gone');
  } finally {
    domain.region.close();
    kvm.close();
  }
});

test('vCPU workers that stopped on their own: no kvm_run mapping and no fd of the VM is left', async (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  const fdsBefore = kvmFds();
  const { domain, platform } = kvmDomain(kvm, 'compute', {});
  try {
    const runtime = await WorkerDomainRuntime.create(domain.config, domain.options(), platform);
    await runtime.start();
    assert.equal(kvmRunMappings().length, VCPUS);
    await settlesWithin(runtime.destroy(), 60_000, 'destroy');
    assert.equal(platform.releases, 1);
    assert.deepEqual(kvmRunMappings(), [], 'no kvm_run mapping is left');
    assert.deepEqual(kvmFds(), fdsBefore, 'every fd of the VM is closed');
  } finally {
    domain.region.close();
    kvm.close();
  }
});
