/**
 * Smoke test against the running kernel: create a VM and a vCPU through
 * /dev/kvm, get their stats fds and run the reader and checker on them.
 * Needs a usable /dev/kvm.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { test } from 'node:test';
import koffi from 'koffi';
import { checkKvmStats, describeKvmStats, fdSource, KvmStatsReader } from '../../src/formats/kvm-stats/index.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';

const KVM_CREATE_VM = 0xae01;
const KVM_CREATE_VCPU = 0xae41;
const KVM_GET_STATS_FD = 0xaece;

test('reader and checker on real VM and vCPU stats fds', (t) => {
  if (skipWithoutKvm(t)) return;
  const libc = koffi.load('libc.so.6');
  const ioctl = libc.func('int ioctl(int, unsigned long, unsigned long)') as (
    fd: number,
    req: number,
    arg: number,
  ) => number;
  const fds: number[] = [];
  const track = (fd: number, what: string) => {
    assert.ok(fd >= 0, `${what} failed`);
    fds.push(fd);
    return fd;
  };
  try {
    const kvm = track(openSync('/dev/kvm', 'r+') /* libuv opens with O_CLOEXEC */, 'open /dev/kvm');
    const vm = track(ioctl(kvm, KVM_CREATE_VM, 0), 'KVM_CREATE_VM');
    const vcpu = track(ioctl(vm, KVM_CREATE_VCPU, 0), 'KVM_CREATE_VCPU');
    const vmStats = track(ioctl(vm, KVM_GET_STATS_FD, 0), 'KVM_GET_STATS_FD (vm)');
    const vcpuStats = track(ioctl(vcpu, KVM_GET_STATS_FD, 0), 'KVM_GET_STATS_FD (vcpu)');

    for (const [fd, idPattern] of [
      [vmStats, /^kvm-\d+$/],
      [vcpuStats, /^kvm-\d+\/vcpu-0$/],
    ] as const) {
      const source = fdSource(fd);
      assert.equal(source.size, undefined, 'a stats fd has no size');
      const reader = KvmStatsReader.open(source);
      assert.match(reader.layout.id, idPattern);
      assert.equal(reader.layout.header.idOffset, 24);
      assert.ok(reader.layout.descriptors.length > 0);
      const checked = checkKvmStats(source, { samples: 3 });
      const errors = checked.violations.filter((v) => v.severity === 'error');
      assert.deepEqual(errors, []);
      const rows = describeKvmStats(reader.layout, reader.readData()).rows;
      assert.equal(rows.length, reader.layout.descriptors.length);
      t.diagnostic(
        `${reader.layout.id}: ${rows.length} stats, ${reader.layout.dataSize} data bytes, ${checked.warnings} warnings`,
      );
    }
    const vcpuReader = KvmStatsReader.open(fdSource(vcpuStats));
    const hist = vcpuReader.stat('halt_poll_success_hist');
    if (hist) assert.equal(hist.flags, 0x24);
  } finally {
    for (const fd of fds.reverse()) closeSync(fd);
  }
});
