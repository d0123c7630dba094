/**
 * The KVM backend on real KVM (skipped, with the reason, without a usable /dev/kvm): the shared
 * behavioural tests, plus KVM's own per-vCPU stats fds checked against the guest's reports and
 * hvkit's counters.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { fdSource, KvmStatsReader } from '../../src/formats/kvm-stats/index.ts';
import { kvmVendorModule } from '../../src/kvm/system.ts';
import { KvmBackend } from '../../src/vmm/kvm-backend.ts';
import { kvmFds, kvmSkipReason } from '../kvm/helpers.ts';
import { behaviourSuite } from './behaviour.ts';

let backend: KvmBackend | undefined;
const fdsBefore = kvmSkipReason() ? [] : kvmFds();
after(async () => {
  await backend?.close();
  if (!kvmSkipReason()) assert.deepEqual(kvmFds(), fdsBefore, 'every KVM fd is closed after the backend');
});

behaviourSuite({
  backend: () => {
    if (kvmSkipReason()) return undefined;
    backend ??= KvmBackend.open();
    return backend;
  },
  skipReason: () => kvmSkipReason() ?? '',
  checkCpuCounters(fds, counters, log, stringIos) {
    assert.equal(fds.vcpus.length, counters.length);
    assert.ok(fds.vm !== undefined, 'the VM stats fd is kept open');
    const vendor = kvmVendorModule();
    fds.vcpus.forEach((fd, i) => {
      const reader = KvmStatsReader.open(fdSource(fd));
      const values = reader.readData();
      const c = counters[i]!;
      const hvkitExits = c.get('exits.exits_total')!;
      const kicks = c.get('exits.signal_exits')!;
      // KVM counts every exit, also those it handles in the kernel; hvkit sees those reaching user space.
      assert.ok(reader.value(values, 'exits') >= hvkitExits - kicks, `vcpu ${i}: KVM exits >= hvkit's`);
      assert.equal(reader.value(values, 'halt_exits'), c.get('exits.hlt_exits'), `vcpu ${i}: halt_exits`);
      const ioExits = reader.value(values, 'io_exits');
      if (vendor === 'kvm_intel' || vendor === 'kvm_amd') {
        // KVM counts an I/O exit at every I/O intercept; hvkit sees those that reach user space.
        // They differ only where the kernel finishes an intercepted instruction itself: a
        // `rep outs` whose count is zero after its last byte may be intercepted once more (the
        // emulated SVM does; VMX does not) and is completed in the kernel without KVM_EXIT_IO.
        // So on every vendor: hvkit ≤ KVM ≤ hvkit + one per string instruction the guest ran.
        const hvkitIo = c.get('exits.io_exits')!;
        assert.ok(ioExits >= hvkitIo, `vcpu ${i}: KVM io_exits ${ioExits} ≥ hvkit's ${hvkitIo}`);
        assert.ok(
          ioExits - hvkitIo <= stringIos,
          `vcpu ${i}: KVM io_exits ${ioExits} − hvkit's ${hvkitIo} ≤ ${stringIos} string I/O instructions`,
        );
        if (ioExits !== hvkitIo) log(`vcpu ${i}: KVM counted ${ioExits - hvkitIo} I/O exits completed in the kernel`);
      } else {
        log(`io_exits not compared: KVM backend is ${vendor ?? 'unknown'} (io_exits = ${ioExits})`);
      }
    });
  },
});
