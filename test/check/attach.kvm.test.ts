/**
 * `hvkit check --attach` on real KVM: hvkit's own KVM host (VM and vCPU stats fds duplicated and
 * checked over two samples while the guest runs, plus its table and directory), a VMM holding VM
 * fds but no stats fd (said clearly, exit 2), a VMM that exits in the middle of a check, and
 * QEMU (7.2 holds no stats fd; a newer one that does is checked like any VMM).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { after, test } from 'node:test';
import { discoverKvmProcesses } from '../../src/attach/discover.ts';
import { ProcessHandle } from '../../src/attach/pidfd.ts';
import { tableName } from '../../src/attach/tables.ts';
import { KvmStatsReader } from '../../src/formats/kvm-stats/reader.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import { statsFdSource } from '../../src/kvm/stats-source.ts';
import { close } from '../../src/os/libc.ts';
import { processStartTime } from '../../src/os/procfs.ts';
import { createShmRegion, shmPath } from '../../src/shm/shm-file.ts';
import { LiveChecker } from '../../src/tools/live-check/live-checker.ts';
import { KvmStatsSubject } from '../../src/tools/live-check/subjects.ts';
import type { ChildConfig } from '../attach/vm-child.ts';
import { hvkit } from '../cli/run.ts';
import { ctl, json, startHost, stopHost } from '../ctl/host-process.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { startTs, type TsProcess } from '../stats-table/processes.ts';
import { QEMU_BINARY, qemuInstalled, startQemu } from '../support/qemu.ts';
import { hangDeadline } from '../support/slowdown.ts';

const CHILD = new URL('../attach/vm-child.ts', import.meta.url);
const children: TsProcess[] = [];

after(() => {
  for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

interface Report {
  vms: {
    pid: number;
    subjects: { kind: string; label: string; id?: string; samples: number }[];
    violations: { subject: string; field: string; rule: string; severity: string }[];
    unchecked?: string;
    exited: boolean;
    errors: number;
  }[];
  errors: number;
  unchecked: number;
}

async function vmChild(config: ChildConfig): Promise<TsProcess & { pid: number }> {
  const p = startTs(CHILD, [JSON.stringify(config)]);
  children.push(p);
  const info = (await p.next()) as { pid: number };
  return Object.assign(p, { pid: info.pid });
}

/** How many KVM stats fds `pid` holds (the checker's duplicates). */
function statsFdsHeld(pid: number): number {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  return fds.filter((fd) => {
    try {
      return /^anon_inode:kvm-(vm|vcpu)-stats/.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }).length;
}

test('hvkit KVM host: VM and every vCPU stats fd, table and directory checked over two samples, valid', async (t) => {
  if (skipWithoutKvm(t)) return;
  const h = await startHost({ HVKIT_BACKEND: 'kvm' }, []);
  try {
    json(ctl(h.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'mixed', '--json']));
    const r = hvkit('check', '--attach', String(h.pid), '--interval', '200', '--json');
    assert.equal(r.code, 0, r.out + r.err);
    const vm = (JSON.parse(r.out) as Report).vms[0]!;
    const kinds = vm.subjects.map((s) => s.kind).sort();
    assert.deepEqual(kinds, ['domain-directory', 'stats-table', 'vcpu-stats', 'vcpu-stats', 'vm-stats']);
    // Every fd, the vCPUs' too, was read twice: its counters compared across the samples.
    assert.ok(
      vm.subjects.every((s) => s.samples === 2),
      JSON.stringify(vm.subjects),
    );
    const ids = vm.subjects.flatMap((s) => s.id ?? []).sort();
    assert.deepEqual(ids, [`kvm-${h.pid}`, `kvm-${h.pid}/vcpu-0`, `kvm-${h.pid}/vcpu-1`]);
    assert.deepEqual(vm.violations, []);
    const text = hvkit('check', '--attach', String(h.pid));
    assert.match(text.out, /: 1 vm \+ 2 vcpu stats fd\(s\), 1 table\(s\), 1 directory, 2 sample\(s\): valid/);
  } finally {
    await stopHost(h);
  }
});

test('a vCPU stats fd of a running guest compared across samples: its counters grew, no reset, no change', async (t) => {
  if (skipWithoutKvm(t)) return;
  const h = await startHost({ HVKIT_BACKEND: 'kvm' }, []);
  const opened: { close(): void }[] = [];
  try {
    json(ctl(h.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'mixed', '--json']));
    const found = discoverKvmProcesses({ pids: [h.pid] }).processes[0]!;
    const ownerFd = found.vcpuStatsFds[0]!.fd;
    const process = ProcessHandle.open(h.pid, found.startTime);
    assert.ok(process instanceof ProcessHandle);
    opened.push(process);
    const dup = (fd: number) => {
      const r = process.dup(fd);
      assert.ok(r.ok);
      return r.fd;
    };
    const subject = new KvmStatsSubject('vcpu-stats', 'vcpu 0', dup(ownerFd));
    opened.push(subject);
    const readerFd = dup(ownerFd);
    opened.push({ close: () => close(readerFd) });
    const reader = KvmStatsReader.open(statsFdSource(readerFd));
    const exits = () => reader.readData()[reader.layout.descriptors.find((d) => d.name === 'exits')!.word]!;
    const before = exits();
    assert.deepEqual(subject.sample(), []);
    const deadline = Date.now() + hangDeadline(30_000);
    while (exits() === before) {
      assert.ok(Date.now() < deadline, 'the guest never exited again');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(subject.sample(), [], 'grown counters are no violation');
    assert.equal(subject.id, `kvm-${h.pid}/vcpu-0`);
  } finally {
    for (const o of opened.reverse()) o.close();
    await stopHost(h);
  }
});

test('an hvkit table naming fds that are no stats fds of its process: not-a-stats-fd, exit 1', async (t) => {
  if (skipWithoutKvm(t)) return;
  const p = await vmChild({ vms: 1, vcpus: 1, statsFds: true, tables: true, uniqueBase: '0x7a000' });
  const clean = hvkit('check', '--attach', String(p.pid), '--json');
  assert.equal(clean.code, 0, clean.out + clean.err);
  const subjects = (JSON.parse(clean.out) as Report).vms[0]!.subjects.map((s) => s.kind).sort();
  assert.deepEqual(subjects, ['stats-table', 'vcpu-stats', 'vm-stats']);

  // A second table for the same process whose identity names fd 0 (its stdin) as the VM's stats fd.
  const start = processStartTime(p.pid)!;
  const name = tableName(p.pid, start, 9, 0x7a999n);
  const abi = shippedStatsTableAbi();
  const region = createShmRegion(name, StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
  try {
    const writer = StatsTableWriter.create(region, abi, { nrVcpus: 1 });
    writer.setIdentity({ domid: 9, ownerPid: p.pid, ownerStartTime: start, uniqueId: 0x7a999n, vmStatsFd: 0 });
    const r = hvkit('check', '--attach', String(p.pid), '--json');
    assert.equal(r.code, 1, r.out + r.err);
    const bad = (JSON.parse(r.out) as Report).vms[0]!.violations;
    assert.deepEqual(
      bad.map((v) => [v.subject, v.field, v.rule]),
      [[`table ${name}`, 'dom.vm_stats_fd', 'not-a-stats-fd']],
    );
  } finally {
    region.close();
    if (existsSync(shmPath(name))) unlinkSync(shmPath(name));
    p.child.kill();
    await p.exited;
  }
});

test('a VMM holding VM fds but no stats fd: NOT CHECKED, said so, exit 2', async (t) => {
  if (skipWithoutKvm(t)) return;
  const p = await vmChild({ vms: 1, vcpus: 1, statsFds: false, tables: false });
  const r = hvkit('check', '--attach', String(p.pid));
  assert.equal(r.code, 2, r.out + r.err);
  assert.match(
    r.out,
    new RegExp(`^pid ${p.pid} \\(\\S+\\): NOT CHECKED: it holds KVM VM fds but no KVM stats fd`, 'm'),
  );
  p.child.kill();
  await p.exited;
});

test('a VMM that exits in the middle of a check: its fds were checked once, it is reported as exited', async (t) => {
  if (skipWithoutKvm(t)) return;
  const p = await vmChild({ vms: 1, vcpus: 2, statsFds: true, tables: false });
  const check = spawn(process.execPath, [
    'bin/hvkit.mjs',
    'check',
    '--attach',
    String(p.pid),
    '--interval',
    '5000',
    '--json',
  ]);
  let out = '';
  check.stdout.on('data', (c: Buffer) => (out += c));
  const exited = new Promise<number | null>((resolve) => check.once('close', resolve));
  const deadline = Date.now() + hangDeadline(60_000);
  // All three duplicated (VM and two vCPUs): the first sample follows in the same step.
  while (statsFdsHeld(check.pid!) < 3) {
    assert.ok(Date.now() < deadline, 'the checker never attached');
    await new Promise((r) => setTimeout(r, 20));
  }
  p.child.kill('SIGKILL');
  await p.exited;
  assert.equal(await exited, 0, out);
  const vm = (JSON.parse(out) as Report).vms[0]!;
  assert.equal(vm.exited, true);
  assert.equal(vm.subjects.length, 3);
  assert.deepEqual(vm.violations, []);
});

test('watching a KVM host whose domain is re-created: the gone VM’s stats fds closed, the new VM’s checked on their own', async (t) => {
  if (skipWithoutKvm(t)) return;
  const h = await startHost({ HVKIT_BACKEND: 'kvm' }, []);
  const checker = new LiveChecker({ pids: [h.pid] });
  const create = () =>
    json<{ domid: number }>(ctl(h.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--json']))
      .domid;
  try {
    let domid = create();
    checker.sample();
    checker.sample();
    assert.equal(statsFdsHeld(process.pid), 3, 'the VM and two vCPU stats fds duplicated');
    for (let round = 1; round <= 3; round++) {
      assert.equal(ctl(h.pid, ['destroy', String(domid)]).code, 0);
      domid = create();
      const { findings, events } = checker.sample();
      assert.deepEqual(findings, [], `round ${round}`);
      // The new VM's fds may well have the old numbers: kcmp tells the files apart.
      const note = events.find((e) => e.kind === 'note')?.text ?? '';
      for (const what of ['vm stats fd', 'vcpu 0 stats fd', 'vcpu 1 stats fd', 'table '])
        assert.ok(note.includes(what), `${what} retired: ${note}`);
      assert.equal(statsFdsHeld(process.pid), 3, 'nothing of the destroyed VM is held');
      const vm = checker.report().vms[0]!;
      const samples = vm.subjects.map((s) => `${s.kind}:${s.samples}`).sort();
      assert.deepEqual(samples, [
        `domain-directory:${round + 2}`,
        'stats-table:1',
        'vcpu-stats:1',
        'vcpu-stats:1',
        'vm-stats:1',
      ]);
      assert.deepEqual(vm.subjects.flatMap((s) => s.id ?? []).sort(), [
        `kvm-${h.pid}`,
        `kvm-${h.pid}/vcpu-0`,
        `kvm-${h.pid}/vcpu-1`,
      ]);
    }
    checker.sample();
    assert.equal(checker.report().errors, 0);
  } finally {
    checker.close();
    await stopHost(h);
  }
  assert.equal(statsFdsHeld(process.pid), 0, 'closing the checker closes every duplicate');
});

test('QEMU: checked from outside, or said clearly to hold no stats fd (QEMU 7.2)', async (t) => {
  if (skipWithoutKvm(t)) return;
  assert.ok(qemuInstalled(), `${QEMU_BINARY} is needed (Debian's qemu-system-x86; .ci/run installs it)`);
  const vm = await startQemu({ vcpus: 2 });
  try {
    t.diagnostic(vm.version);
    const r = hvkit('check', '--attach', String(vm.pid), '--json');
    const report = JSON.parse(r.out) as Report;
    const q = report.vms[0]!;
    assert.equal(q.pid, vm.pid);
    if (q.subjects.length === 0) {
      // QEMU opens KVM_GET_STATS_FD only for query-stats (QEMU ≥ 7.1) and closes it again.
      assert.equal(r.code, 2);
      assert.match(q.unchecked!, /holds KVM VM fds but no KVM stats fd/);
      const text = hvkit('check', '--attach', String(vm.pid));
      assert.match(text.out, /NOT CHECKED: it holds KVM VM fds but no KVM stats fd .*nothing to check from fds/);
      t.diagnostic(`QEMU holds no stats fd: ${q.unchecked}`);
    } else {
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(q.violations, []);
      t.diagnostic(`QEMU's ${q.subjects.length} stats fds checked`);
    }
  } finally {
    vm.stop();
  }
});
