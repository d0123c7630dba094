/** Discovery parsing, VM planning and lifecycle events: pure rules, no KVM needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseKvmFdTarget } from '../../src/attach/discover.ts';
import { LifecycleTracker } from '../../src/attach/lifecycle.ts';
import { hvkitMatchKey, type PlannedTable, planVms } from '../../src/attach/plan.ts';
import { guestName } from '../../src/attach/session.ts';
import { kvmStatKind } from '../../src/attach/stat-samples.ts';
import { parseTableName, tableName } from '../../src/attach/tables.ts';
import { StatType } from '../../src/formats/kvm-stats/constants.ts';
import { parseProcStat } from '../../src/os/procfs.ts';

describe('parseKvmFdTarget', () => {
  it('classifies the four KVM VM objects', () => {
    assert.deepEqual(parseKvmFdTarget('anon_inode:kvm-vm'), { kind: 'vm' });
    assert.deepEqual(parseKvmFdTarget('anon_inode:kvm-vcpu:3'), { kind: 'vcpu', vcpu: 3 });
    assert.deepEqual(parseKvmFdTarget('anon_inode:kvm-vm-stats'), { kind: 'vm-stats' });
    assert.deepEqual(parseKvmFdTarget('anon_inode:kvm-vcpu-stats:12'), { kind: 'vcpu-stats', vcpu: 12 });
    assert.deepEqual(parseKvmFdTarget('anon_inode:kvm-vcpu-stats'), { kind: 'vcpu-stats' });
  });
  it('ignores everything else', () => {
    for (const t of ['/dev/kvm', 'anon_inode:kvm-vcpu', 'anon_inode:kvm-vm:1', 'anon_inode:[eventfd]', 'socket:[1]']) {
      assert.equal(parseKvmFdTarget(t), undefined, t);
    }
  });
});

describe('parseProcStat', () => {
  it('reads field 22 after a comm holding spaces and parentheses', () => {
    const rest = Array.from({ length: 30 }, (_, i) => String(i + 3));
    rest[0] = 'S';
    rest[19] = '987654321';
    const id = parseProcStat(42, `42 (qemu (x) ) ${rest.join(' ')}`);
    assert.deepEqual(id, { pid: 42, startTime: 987654321n, comm: 'qemu (x) ', state: 'S' });
  });
  it('refuses malformed text', () => {
    assert.equal(parseProcStat(1, '1 (init'), undefined);
    assert.equal(parseProcStat(1, '1 (init) S 0'), undefined);
  });
});

describe('stats table names', () => {
  it('round-trips pid, start time, domid and unique id', () => {
    const name = tableName(1234, 5678n, 7, 0xabcn);
    assert.equal(name, 'hvkit.1234.5678.dom7.0000000000000abc.stats');
    assert.deepEqual(parseTableName(name), { name, pid: 1234, startTime: 5678n, domid: 7, uniqueId: 0xabcn });
  });
  it('refuses domid 0, unique id 0 and other files', () => {
    assert.equal(parseTableName('hvkit.1.2.dom0.0000000000000001.stats'), undefined);
    assert.equal(parseTableName('hvkit.1.2.dom1.0000000000000000.stats'), undefined);
    assert.equal(parseTableName('hvkit.1.2.domains'), undefined);
    assert.equal(parseTableName('hvkit.1.2.dom1.01.stats'), undefined);
  });
});

const proc = (pid: number, fds: Partial<{ vm: number[]; vmStats: number[]; vcpuStats: number[] }>) => ({
  pid,
  startTime: 100n,
  comm: 'vmm',
  state: 'S',
  vmFds: fds.vm ?? [],
  vcpuFds: [],
  vmStatsFds: fds.vmStats ?? [],
  vcpuStatsFds: (fds.vcpuStats ?? []).map((fd, i) => ({ fd, vcpu: i })),
});

const table = (pid: number, domid: number, uid: bigint, vmStatsFd?: number, vcpuFds: number[] = []): PlannedTable => ({
  name: { name: tableName(pid, 100n, domid, uid), pid, startTime: 100n, domid, uniqueId: uid },
  identity: {
    dom: {
      domid,
      ownerPid: pid,
      uniqueId: uid,
      ownerStartTime: 100n,
      ...(vmStatsFd === undefined ? {} : { vmStatsFd }),
    },
    vcpus: vcpuFds.map((kvmStatsFd, index) => ({ index, kvmStatsFd })),
  },
});

describe('planVms', () => {
  const alive = () => true;
  it('gives one VM per process of another VMM, with all its stats fds', () => {
    const { vms } = planVms({
      processes: [proc(10, { vm: [5], vmStats: [7], vcpuStats: [8, 9] })],
      skipped: [],
      tables: [],
      alive,
    });
    assert.equal(vms.length, 1);
    assert.equal(vms[0]!.owner, 'other');
    assert.equal(vms[0]!.vmFd, 5);
    assert.equal(vms[0]!.vmStatsFd, 7);
    assert.deepEqual(vms[0]!.vcpuStatsFds, [
      { fd: 8, vcpu: 0 },
      { fd: 9, vcpu: 1 },
    ]);
    assert.equal(vms[0]!.noStatsFd, false);
  });
  it('says so when a VMM holds no stats fd', () => {
    const { vms } = planVms({ processes: [proc(10, { vm: [5] })], skipped: [], tables: [], alive });
    assert.equal(vms[0]!.noStatsFd, true);
    assert.match(vms[0]!.notes.join(), /holds no KVM stats fd/);
  });
  it('does not guess whose stats fds they are with several VMs and no tables', () => {
    const { vms } = planVms({ processes: [proc(10, { vm: [5, 6], vmStats: [7, 8] })], skipped: [], tables: [], alive });
    assert.equal(vms.length, 2);
    for (const vm of vms) {
      assert.equal(vm.vmStatsFd, undefined);
      assert.match(vm.notes.join(), /cannot be told apart/);
    }
  });
  it('maps the fds of several hvkit domains in one process through their identity words', () => {
    const p = proc(10, { vm: [5, 6], vmStats: [7, 8], vcpuStats: [11, 12, 13, 14] });
    const { vms } = planVms({
      processes: [p],
      skipped: [],
      tables: [table(10, 1, 0x11n, 8, [13, 14]), table(10, 2, 0x22n, 7, [11, 12])],
      alive,
    });
    assert.equal(vms.length, 2);
    assert.deepEqual(
      vms.map((v) => [v.matchKey, v.vmStatsFd, v.vcpuStatsFds.map((x) => x.fd)]),
      [
        [hvkitMatchKey(0x11n), 8, [13, 14]],
        [hvkitMatchKey(0x22n), 7, [11, 12]],
      ],
    );
  });
  it('flags identity words naming fds the host does not hold', () => {
    const { vms } = planVms({
      processes: [proc(10, { vm: [5], vmStats: [7] })],
      skipped: [],
      tables: [table(10, 1, 1n, 9)],
      alive,
    });
    assert.equal(vms[0]!.vmStatsFd, undefined);
    assert.match(vms[0]!.notes.join(), /vm_stats_fd 9 is not/);
  });
  it('reports tables of dead hosts as stale and keeps those of live hosts it cannot inspect', () => {
    const plan = planVms({
      processes: [],
      skipped: [{ pid: 20, code: 'EACCES' }],
      tables: [table(10, 1, 1n), table(20, 1, 2n, 4)],
      alive: (pid) => pid === 20,
    });
    assert.deepEqual(
      plan.staleTables.map((t) => t.pid),
      [10],
    );
    assert.equal(plan.vms.length, 1);
    assert.match(plan.vms[0]!.notes.join(), /not inspectable \(EACCES\)/);
  });
});

describe('LifecycleTracker', () => {
  const dom = (uid: bigint, domid = 1) => ({
    key: hvkitMatchKey(uid),
    name: `dom${domid}`,
    owner: 'hvkit' as const,
    host: '10:100',
    domid,
    uniqueId: uid,
  });
  const other = { key: 'pid:5:1:kvm-5', name: 'qemu[5]', owner: 'other' as const };
  it('derives appeared, created, destroyed, vanished and domid-reused', () => {
    const t = new LifecycleTracker();
    assert.deepEqual(
      t.update([dom(1n), other], 1).map((e) => e.kind),
      ['appeared', 'appeared'],
    );
    assert.deepEqual(t.update([dom(1n), other], 2), []);
    assert.deepEqual(
      t.update([dom(1n)], 3).map((e) => [e.kind, e.vmKey]),
      [['vanished', other.key]],
    );
    assert.deepEqual(
      t.update([], 4).map((e) => e.kind),
      ['destroyed'],
    );
    const events = t.update([dom(2n)], 5);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['created', 'domid-reused'],
    );
    assert.match(events[1]!.text, /0000000000000001 → 0000000000000002/);
    assert.deepEqual(
      t.update([dom(2n), dom(3n, 2)], 6).map((e) => e.kind),
      ['created'],
    );
  });
});

describe('stat kinds and guest names', () => {
  it('maps KVM types: cumulative → counter, instant/peak → gauge, histograms', () => {
    assert.equal(kvmStatKind(StatType.Cumulative), 'counter');
    assert.equal(kvmStatKind(StatType.Instant), 'gauge');
    assert.equal(kvmStatKind(StatType.Peak), 'gauge');
    assert.equal(kvmStatKind(StatType.LinearHist), 'histogram');
    assert.equal(kvmStatKind(StatType.LogHist), 'histogram');
    assert.equal(kvmStatKind(9), 'gauge');
  });
  it('reads QEMU -name forms', () => {
    assert.equal(guestName(['qemu', '-name', 'guest=web,debug-threads=on']), 'web');
    assert.equal(guestName(['qemu', '-name', 'db']), 'db');
    assert.equal(guestName(['qemu', '-name', 'a,,b']), 'a,b');
    assert.equal(guestName(['firecracker']), undefined);
  });
});

describe('planVms: processes holding only duplicated stats fds', () => {
  it('are not VMs (another hvkit top, a logger): no phantom, no double listing', () => {
    const vmm = proc(10, { vm: [5], vmStats: [7], vcpuStats: [8, 9] });
    const viewer = proc(20, { vmStats: [30], vcpuStats: [31, 32] });
    const { vms } = planVms({ processes: [vmm, viewer], skipped: [], tables: [], alive: () => true });
    assert.deepEqual(
      vms.map((v) => v.pid),
      [10],
    );
  });
  it('a process with vCPU fds but no VM fd still runs a VM', () => {
    const p = { ...proc(10, { vcpuStats: [8] }), vcpuFds: [{ fd: 6, vcpu: 0 }] };
    const { vms } = planVms({ processes: [p], skipped: [], tables: [], alive: () => true });
    assert.equal(vms.length, 1);
    assert.match(vms[0]!.notes.join(), /no VM fd/);
  });
});
