/**
 * Live KVM stats fds read by hvkit's TypeScript reader and by the independent C reader
 * (test/c/kvm_stats_reader.c) on the very same fds, after the guest ran and halted on every vCPU.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkKvmStats, checkProgress, fdSource, KvmStatsReader, StatType } from '../../src/formats/kvm-stats/index.ts';
import { loadCaptureGuest, runCaptureGuest } from '../../src/kvm/capture-guest.ts';
import { runUntilHalt } from '../../src/kvm/run-loop.ts';
import { statsFdSource } from '../../src/kvm/stats-source.ts';
import { KvmSystem, kvmVendorModule } from '../../src/kvm/system.ts';
import type { Vm } from '../../src/kvm/vm.ts';
import { type CReader, compileCReader, kvmSkipReason, runCReader, skipWithoutKvm } from './helpers.ts';

/** OUT writes the guest makes on vCPU i: different per vCPU so the files cannot be confused. */
const WRITES = [5, 9];

let kvm: KvmSystem | undefined;
let vm: Vm | undefined;
let cReader: CReader | undefined;

before(() => {
  if (kvmSkipReason()) return;
  cReader = compileCReader();
  kvm = KvmSystem.open();
  vm = kvm.createVm();
  loadCaptureGuest(vm);
  for (const [i, writes] of WRITES.entries()) runCaptureGuest(vm.createVcpu(i), writes);
});

after(() => {
  vm?.close();
  kvm?.close();
  cReader?.cleanup();
});

function statsFds(): Array<{ what: string; fd: number }> {
  return [{ what: 'vm', fd: vm!.statsFd }, ...vm!.vcpus.map((v) => ({ what: `vcpu ${v.id}`, fd: v.statsFd }))];
}

test('TS and C readers agree on header, id and every descriptor of live VM and vCPU stats fds', (t) => {
  if (skipWithoutKvm(t)) return;
  for (const { what, fd } of statsFds()) {
    const { layout } = KvmStatsReader.open(fdSource(fd));
    const c = runCReader(cReader!, { fd });
    const h = layout.header;
    assert.deepEqual(
      c.header,
      {
        flags: String(h.flags),
        name_size: String(h.nameSize),
        num_desc: String(h.numDesc),
        id_offset: String(h.idOffset),
        desc_offset: String(h.descOffset),
        data_offset: String(h.dataOffset),
        layout: c.header.layout,
      },
      what,
    );
    assert.equal(c.id, layout.id, what);
    assert.deepEqual(
      c.descriptors,
      layout.descriptors.map((d) => ({
        index: String(d.index),
        name: d.name,
        flags: String(d.flags),
        exponent: String(d.exponent),
        size: String(d.size),
        offset: String(d.offset),
        bucket_size: String(d.bucketSize),
      })),
      what,
    );
  }
});

test('TS and C readers agree on every value once the vCPUs have stopped', (t) => {
  if (skipWithoutKvm(t)) return;
  for (const { what, fd } of statsFds()) {
    const reader = KvmStatsReader.open(fdSource(fd));
    const values = reader.readData().slice();
    const c = runCReader(cReader!, { fd });
    const expected = new Map<string, bigint>();
    for (const d of reader.layout.descriptors) {
      const items = reader.items(values, d);
      if (d.size === 1) expected.set(d.name, items[0]!);
      else
        items.forEach((v, i) => {
          expected.set(`${d.name}[${i}]`, v);
        });
    }
    // Exact equality holds because nothing runs between the two reads: every vCPU has halted.
    assert.deepEqual(c.values, expected, what);
  }
});

test('the kernel counted at least what the guest did on each vCPU', (t) => {
  if (skipWithoutKvm(t)) return;
  const vendor = kvmVendorModule();
  for (const v of vm!.vcpus) {
    const reader = KvmStatsReader.open(fdSource(v.statsFd));
    const values = reader.readData();
    const writes = BigInt(WRITES[v.id]!);
    assert.match(reader.layout.id, new RegExp(`^kvm-\\d+/vcpu-${v.id}$`));
    assert.ok(reader.value(values, 'exits') >= writes + 1n, `vcpu ${v.id} exits`);
    assert.ok(reader.value(values, 'halt_exits') >= 1n, `vcpu ${v.id} halt_exits`);
    const ioExits = reader.value(values, 'io_exits');
    if (vendor === 'kvm_intel' || vendor === 'kvm_amd') {
      assert.ok(ioExits >= writes, `vcpu ${v.id} io_exits ${ioExits} < ${writes}`);
    } else {
      // io_exits is counted by the VMX/SVM I/O intercept handlers; other backends (kvm_pvm here)
      // emulate the guest's OUT elsewhere and may leave it at 0. `exits` above still covers it.
      t.diagnostic(`io_exits not checked: KVM backend is ${vendor ?? 'unknown'} (io_exits = ${ioExits})`);
    }
  }
  const vmReader = KvmStatsReader.open(fdSource(vm!.statsFd));
  assert.match(vmReader.layout.id, /^kvm-\d+$/);
});

test('the checker accepts live stats fds with no errors', (t) => {
  if (skipWithoutKvm(t)) return;
  for (const { what, fd } of statsFds()) {
    const result = checkKvmStats(fdSource(fd), { samples: 3 });
    assert.deepEqual(
      result.violations.filter((x) => x.severity === 'error'),
      [],
      what,
    );
    assert.equal(result.errors, 0, what);
  }
});

test('counters move when the vCPU runs again, and never go down', (t) => {
  if (skipWithoutKvm(t)) return;
  const vcpu = vm!.vcpus[0]!;
  const reader = KvmStatsReader.open(fdSource(vcpu.statsFd));
  const first = reader.readData().slice();
  const again = runUntilHalt(vcpu); // the guest sits on its hlt: one more exit
  const second = reader.readData().slice();
  assert.equal(again.haltExits, 1);
  assert.ok(reader.value(second, 'exits') >= reader.value(first, 'exits') + 1n);
  assert.ok(reader.value(second, 'halt_exits') >= reader.value(first, 'halt_exits') + 1n);
  assert.deepEqual(checkProgress(reader.layout, first, second), []);
  const cumulative = reader.layout.descriptors.filter((d) => d.type === StatType.Cumulative).length;
  assert.ok(cumulative > 0);
});

test('the koffi pread source reads the same metadata and values as the fs source', (t) => {
  if (skipWithoutKvm(t)) return;
  for (const { what, fd } of statsFds()) {
    const viaFs = KvmStatsReader.open(fdSource(fd));
    const viaKoffi = KvmStatsReader.open(statsFdSource(fd));
    assert.deepEqual(viaKoffi.layout.raw, viaFs.layout.raw, what);
    assert.deepEqual(viaKoffi.readData().slice(), viaFs.readData().slice(), what);
  }
});
