/** Keys of other VMMs' VMs: new per VM lifetime, remembered only while their process lives. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VmKeyAllocator } from '../../src/attach/vm-keys.ts';

test('a VM re-created under the same identity gets a new key while its process lives', () => {
  const keys = new VmKeyAllocator();
  assert.equal(keys.allocate('10:100', 'pid:10:100:kvm-10'), 'pid:10:100:kvm-10');
  keys.prune(new Set(), () => true); // the VM is gone, its process still runs
  assert.equal(keys.allocate('10:100', 'pid:10:100:kvm-10'), 'pid:10:100:kvm-10#2');
});

test('keys of dead processes are forgotten: memory stays bounded by live processes', () => {
  const keys = new VmKeyAllocator();
  const alive = new Set<string>();
  for (let pid = 1; pid <= 1000; pid++) {
    keys.allocate(`${pid}:1`, `pid:${pid}:1:kvm-${pid}`);
    keys.prune(new Set([`${pid}:1`]), (p, s) => alive.has(`${p}:${s}`)); // each VMM exits after one scan
  }
  assert.equal(keys.size, 1);
  alive.add('7:1');
  keys.allocate('7:1', 'pid:7:1:kvm-7');
  keys.prune(new Set(), (p, s) => alive.has(`${p}:${s}`));
  assert.equal(keys.size, 1, 'the live process keeps its key, the dead ones are dropped');
});
