/**
 * Attaching from this process to VMs created by a separate child process (test/attach/vm-child.ts)
 * on real KVM: discovery, pidfd_getfd + pread values equal to the child's own reads, several
 * hvkit domains in one process mapped through their stats tables, a VMM without stats fds,
 * the kernel refusing KVM_GET_STATS_FD on a duplicated VM fd, restarts and vanished processes,
 * and the debugfs fallback.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import { debugfsUnavailableReason } from '../../src/attach/debugfs.ts';
import { discoverKvmProcesses } from '../../src/attach/discover.ts';
import { ProcessHandle } from '../../src/attach/pidfd.ts';
import type { HostSample, StatSample, VmSample } from '../../src/attach/sample.ts';
import { AttachSession } from '../../src/attach/session.ts';
import { KVM_GET_STATS_FD } from '../../src/kvm/constants.ts';
import { close, ioctl } from '../../src/os/libc.ts';
import { SyscallError } from '../../src/os/syscall-error.ts';
import { shmPath } from '../../src/shm/shm-file.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { startTs, type TsProcess } from '../stats-table/processes.ts';
import type { ChildConfig } from './vm-child.ts';

const CHILD = new URL('./vm-child.ts', import.meta.url);
const children: TsProcess[] = [];
const tables: string[] = [];

interface ChildInfo {
  pid: number;
  startTime: string;
  vms: {
    vmFd: number;
    vmStatsFd?: number;
    vcpuStatsFds?: number[];
    domid?: number;
    uniqueId?: string;
    table?: string;
  }[];
}

async function spawnChild(config: ChildConfig): Promise<{ p: TsProcess; info: ChildInfo }> {
  const p = startTs(CHILD, [JSON.stringify(config)]);
  children.push(p);
  const info = (await p.next()) as unknown as ChildInfo;
  for (const vm of info.vms) if (vm.table) tables.push(vm.table);
  return { p, info };
}

async function childValues(p: TsProcess) {
  p.child.stdin.write('read\n');
  const r = (await p.next()) as {
    values: { id: string; vm: Record<string, string>; vcpus: Record<string, string>[] }[];
  };
  return r.values;
}

async function stop(p: TsProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await p.exited;
}

after(async () => {
  for (const p of children) await stop(p, 'SIGKILL');
  for (const t of tables) if (existsSync(shmPath(t))) unlinkSync(shmPath(t));
});

/** name → value text of the KVM stats of a sample (histograms as comma-joined buckets). */
function kvmRecord(stats: StatSample[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of stats) if (s.origin === 'kvm') out[s.name] = String(s.buckets ?? s.value);
  return out;
}

function vmsOf(sample: HostSample, pid: number): VmSample[] {
  return sample.vms.filter((v) => v.pid === pid);
}

function ownStatsDups(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:kvm-v');
    } catch {
      return false;
    }
  }).length;
}

describe('attaching to VMs of another process', { concurrency: false }, () => {
  it('discovers a VMM, duplicates its stats fds and reads the values the VMM reads itself', async (t) => {
    if (skipWithoutKvm(t)) return;
    const { p, info } = await spawnChild({ vms: 1, vcpus: 2, statsFds: true, tables: false });
    const found = discoverKvmProcesses().processes.find((x) => x.pid === info.pid);
    assert.ok(found, 'child discovered');
    assert.equal(found.startTime, BigInt(info.startTime));
    assert.deepEqual(found.vmFds, [info.vms[0]!.vmFd]);
    assert.deepEqual(found.vmStatsFds, [info.vms[0]!.vmStatsFd]);
    assert.deepEqual(
      found.vcpuStatsFds.map((x) => x.fd),
      info.vms[0]!.vcpuStatsFds,
    );

    const source = new AttachSession({ pids: [info.pid], debugfs: false });
    try {
      const [vm] = vmsOf(source.sample(), info.pid);
      assert.ok(vm);
      assert.equal(vm.owner, 'other');
      assert.deepEqual(vm.sources, ['kvm-stats-fd']);
      assert.equal(vm.key, `pid:${info.pid}:${info.startTime}:kvm-${info.pid}`);
      // The guest has halted: the counters are still, so both reads see the same values.
      const [own] = await childValues(p);
      assert.deepEqual(kvmRecord(vm.vm), own!.vm);
      assert.deepEqual(
        vm.vcpus.map((c) => c.index),
        [0, 1],
      );
      vm.vcpus.forEach((c, i) => {
        assert.deepEqual(kvmRecord(c.stats), own!.vcpus[i]);
      });
      const exits = vm.vcpus[0]!.stats.find((s) => s.name === 'exits')!;
      assert.equal(exits.kind, 'counter');
      const hist = vm.vcpus[0]!.stats.find((s) => s.kind === 'histogram');
      if (hist) assert.ok(hist.histogram && hist.buckets && hist.buckets.length > 0);
    } finally {
      source.close();
    }
    await stop(p);
  });

  it('maps several hvkit domains of one process through their stats tables', async (t) => {
    if (skipWithoutKvm(t)) return;
    const { p, info } = await spawnChild({ vms: 2, vcpus: 2, statsFds: true, tables: true, uniqueBase: '0x5a00' });
    const source = new AttachSession({ pids: [info.pid], debugfs: false });
    try {
      const vms = vmsOf(source.sample(), info.pid).sort((a, b) => a.domid! - b.domid!);
      assert.deepEqual(
        vms.map((v) => [v.key, v.name, v.owner, v.domid, v.sources]),
        [
          // The first domain's table carries its name; the second has none, so it is dom<domid>.
          ['hvkit:0000000000005a00', 'vm-0', 'hvkit', 1, ['stats-table', 'kvm-stats-fd']],
          ['hvkit:0000000000005a01', 'dom2', 'hvkit', 2, ['stats-table', 'kvm-stats-fd']],
        ],
      );
      const own = await childValues(p);
      // The two VMs ran different guests, so equal values prove each VM got its own fds.
      assert.notDeepEqual(own[0]!.vcpus[0], own[1]!.vcpus[0]);
      vms.forEach((vm, v) => {
        assert.deepEqual(kvmRecord(vm.vm), own[v]!.vm);
        vm.vcpus.forEach((c, i) => {
          assert.deepEqual(kvmRecord(c.stats), own[v]!.vcpus[i], `dom${v + 1} vcpu${i}`);
          // Both origins side by side: the VMM counter the child wrote and KVM's own count.
          const vmm = c.stats.find((s) => s.name === 'exits.io_exits');
          assert.deepEqual([vmm?.origin, vmm?.value], ['vmm', BigInt(2 + v * 4 + i)]);
        });
      });
      // Idle domains: later samples hand out the tables' unchanged (immutable) lists again; the KVM
      // stats joined to them must not pile up in those lists.
      const sizes = (list: typeof vms) => list.map((v) => [v.vm.length, v.vcpus.map((c) => c.stats.length)]);
      const first = sizes(vms);
      for (let k = 0; k < 2; k++) {
        const again = vmsOf(source.sample(), info.pid).sort((a, b) => a.domid! - b.domid!);
        assert.deepEqual(sizes(again), first);
      }
      assert.deepEqual(sizes(vms), first, 'a sample handed out earlier changed');
      const hist = vms[0]!.vcpus[0]!.stats.find((s) => s.name === 'vmm.exit_latency_hist');
      if (hist) assert.deepEqual(hist.histogram, { kind: 'log2', bucketSize: 0 });
      // The host exits: its tables go, the next sample reports its domains destroyed.
      await stop(p);
      const after = source.sample();
      assert.deepEqual(vmsOf(after, info.pid), []);
      assert.deepEqual(
        after.events.map((e) => [e.kind, e.vmKey]),
        vms.map((v) => ['destroyed', v.key]),
      );
    } finally {
      source.close();
    }
  });

  it('reports a VMM holding no stats fd, and the kernel refuses KVM_GET_STATS_FD on its duplicated VM fd', async (t) => {
    if (skipWithoutKvm(t)) return;
    const { p, info } = await spawnChild({ vms: 1, vcpus: 1, statsFds: false, tables: false });
    const source = new AttachSession({ pids: [info.pid], debugfs: false });
    try {
      const [vm] = vmsOf(source.sample(), info.pid);
      assert.ok(vm);
      assert.deepEqual(vm.sources, ['none']);
      assert.match(vm.note ?? '', /holds no KVM stats fd/);
    } finally {
      source.close();
    }
    const handle = ProcessHandle.open(info.pid, BigInt(info.startTime));
    assert.ok(handle instanceof ProcessHandle);
    const dup = handle.dup(info.vms[0]!.vmFd);
    handle.close();
    assert.ok(dup.ok);
    try {
      // kvm_vm_ioctl answers EIO to any process whose mm is not the VM's.
      assert.throws(
        () => ioctl(dup.fd, KVM_GET_STATS_FD, 0, 'KVM_GET_STATS_FD'),
        (e: unknown) => e instanceof SyscallError && e.code === 'EIO',
      );
    } finally {
      close(dup.fd);
    }
    await stop(p);
  });

  it('gives a restarted VMM a new key, reports the old one vanished and closes its fds', async (t) => {
    if (skipWithoutKvm(t)) return;
    const before = ownStatsDups();
    const followed: number[] = [];
    const source = new AttachSession({ pids: followed, debugfs: false, rescanEvery: 2 });
    try {
      const first = await spawnChild({ vms: 1, vcpus: 1, statsFds: true, tables: false });
      followed.push(first.info.pid);
      const a = vmsOf(source.sample(), first.info.pid)[0];
      assert.ok(a);
      assert.equal(ownStatsDups(), before + 2, 'VM and vCPU stats fds duplicated');
      await stop(first.p, 'SIGKILL');
      // The pidfd poll notices the exit at the next sample, without waiting for the periodic rescan.
      const gone = source.sample();
      assert.equal(vmsOf(gone, first.info.pid).length, 0);
      assert.deepEqual(
        gone.events.filter((e) => e.vmKey === a.key).map((e) => e.kind),
        ['vanished'],
      );
      assert.equal(ownStatsDups(), before, 'duplicates of a vanished VM are closed');
      const second = await spawnChild({ vms: 1, vcpus: 1, statsFds: true, tables: false });
      followed.push(second.info.pid);
      source.sample(); // the periodic rescan (every 2 samples) finds it now or at the next sample
      const next = source.sample();
      const b = vmsOf(next, second.info.pid)[0];
      assert.ok(b);
      assert.notEqual(b.key, a.key);
      assert.equal(b.key, `pid:${second.info.pid}:${second.info.startTime}:kvm-${second.info.pid}`);
      await stop(second.p, 'SIGKILL');
    } finally {
      source.close();
    }
    assert.equal(ownStatsDups(), before, 'close() releases every duplicate');
  });

  it('falls back to debugfs for a VMM without stats fds', async (t) => {
    if (skipWithoutKvm(t)) return;
    const mounted = mountDebugfs(t);
    if (mounted === undefined) return;
    try {
      const { p, info } = await spawnChild({ vms: 1, vcpus: 2, statsFds: false, tables: false });
      const source = new AttachSession({ pids: [info.pid] });
      try {
        const [vm] = vmsOf(source.sample(), info.pid);
        assert.ok(vm);
        assert.ok(vm.sources.includes('debugfs'), `sources ${vm.sources}`);
        assert.match(vm.note ?? '', /holds no KVM stats fd/);
        assert.match(vm.note ?? '', /VM-wide totals only/);
        // Instant stats (read-only files) are readable even under kernel lockdown.
        assert.ok(vm.vm.length > 0, 'some debugfs stat was read');
        assert.ok(vm.vm.every((s) => s.origin === 'kvm' && s.kind !== 'histogram'));
        const exits = vm.vm.find((s) => s.name === 'io_exits');
        // Readable unless lockdown refuses writable files (then the note says so).
        if (exits) assert.equal(exits.value, 5n);
        else assert.match(vm.note ?? '', /unreadable/);
      } finally {
        source.close();
      }
      await stop(p);
    } finally {
      if (mounted) execFileSync('umount', ['/sys/kernel/debug']);
    }
  });
});

/** Mounts debugfs when it is not mounted; returns whether we mounted it, undefined (skipped) when impossible. */
function mountDebugfs(t: TestContext): boolean | undefined {
  if (debugfsUnavailableReason() === undefined) return false;
  if (process.getuid?.() !== 0) {
    t.skip('debugfs is not mounted and mounting it needs root');
    return undefined;
  }
  try {
    execFileSync('mount', ['-t', 'debugfs', 'none', '/sys/kernel/debug'], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`debugfs cannot be mounted here: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
    return undefined;
  }
  const why = debugfsUnavailableReason();
  if (why) {
    execFileSync('umount', ['/sys/kernel/debug']);
    t.skip(`debugfs mounted but KVM's directory is not usable: ${why}`);
    return undefined;
  }
  return true;
}
