/**
 * From what discovery found (processes and their KVM fds) and hvkit's stats tables, decide which
 * VMs exist and which fds belong to each. Pure: no system calls, so every rule is unit-tested.
 *
 * - hvkit domains: one VM per live stats table; the table's identity words name the host's VM and
 *   vCPU stats fds (several VMs share one process, and stats fds alone do not say whose they are).
 * - other VMMs: one VM per process (QEMU, Firecracker, crosvm …), every stats fd of the process
 *   belongs to it. A process with several VMs and no tables cannot have its stats fds told apart
 *   (every VM's stats id is "kvm-PID"): its VMs are listed without KVM stats, saying why.
 *   A process holding stats fds but neither a VM fd nor a vCPU fd runs no VM: it holds duplicates
 *   (another `hvkit top`, a metrics logger), and listing it would show every VM twice.
 */
import { uniqueIdHex } from '../shm/region-names.ts';
import type { KvmProcess, SkippedProcess } from './discover.ts';
import type { TableIdentity } from './table-identity.ts';
import type { TableName } from './tables.ts';

export interface PlannedTable {
  name: TableName;
  identity: TableIdentity;
}

export interface VmPlan {
  owner: 'hvkit' | 'other';
  pid: number;
  startTime: bigint;
  comm: string;
  /** Identifies the VM while it lives (stable across rescans): `hvkit:<uid>` or `pid:<pid>:<start>:<fd>`. */
  matchKey: string;
  /** The VM fd in the owner process, when known (names the debugfs directory PID-FD). */
  vmFd?: number;
  vmStatsFd?: number;
  vcpuStatsFds: { fd: number; vcpu?: number }[];
  table?: PlannedTable;
  /** The owner process holds VM fds but no stats fd at all. */
  noStatsFd: boolean;
  notes: string[];
}

export interface PlanInput {
  processes: readonly KvmProcess[];
  skipped: readonly SkippedProcess[];
  tables: readonly PlannedTable[];
  /** Whether the process `pid` that started at `startTime` is alive (a table of a dead host is stale). */
  alive(pid: number, startTime: bigint): boolean;
}

export interface Plan {
  vms: VmPlan[];
  /** Tables whose host process is gone (left behind by a crash). */
  staleTables: TableName[];
}

export function hvkitMatchKey(uniqueId: bigint): string {
  return `hvkit:${uniqueIdHex(uniqueId)}`;
}

export function planVms(input: PlanInput): Plan {
  const byProcess = new Map<string, KvmProcess>();
  for (const p of input.processes) byProcess.set(`${p.pid}:${p.startTime}`, p);
  const skipped = new Map(input.skipped.map((s) => [s.pid, s]));
  const tablesOf = new Map<string, PlannedTable[]>();
  const vms: VmPlan[] = [];
  const staleTables: TableName[] = [];

  for (const t of input.tables) {
    const owner = `${t.name.pid}:${t.name.startTime}`;
    const p = byProcess.get(owner);
    if (!p && !input.alive(t.name.pid, t.name.startTime)) {
      staleTables.push(t.name);
      continue;
    }
    const list = tablesOf.get(owner) ?? [];
    list.push(t);
    tablesOf.set(owner, list);
    vms.push(p ? hvkitPlan(t, p) : hvkitPlanWithoutProcess(t, skipped.get(t.name.pid)));
  }

  for (const p of input.processes) {
    const tables = tablesOf.get(`${p.pid}:${p.startTime}`);
    // Appended by a loop, not spread into push(): a process may hold thousands of VMs.
    for (const vm of tables ? unmappedVms(p, tables) : otherVms(p)) vms.push(vm);
  }
  return { vms, staleTables };
}

function hvkitPlan(t: PlannedTable, p: KvmProcess): VmPlan {
  const { identity, name } = t;
  const notes: string[] = [];
  const plan: VmPlan = {
    owner: 'hvkit',
    pid: p.pid,
    startTime: p.startTime,
    comm: p.comm,
    matchKey: hvkitMatchKey(name.uniqueId),
    vcpuStatsFds: [],
    table: t,
    noStatsFd: false,
    notes,
  };
  const vmFd = identity.dom.vmStatsFd;
  if (vmFd !== undefined) {
    if (p.vmStatsFds.includes(vmFd)) plan.vmStatsFd = vmFd;
    else notes.push(`vm_stats_fd ${vmFd} is not a KVM VM stats fd of process ${p.pid}`);
  }
  const held = new Set(p.vcpuStatsFds.map((x) => x.fd));
  for (const v of identity.vcpus) {
    if (v.kvmStatsFd === undefined) continue;
    if (held.has(v.kvmStatsFd)) plan.vcpuStatsFds.push({ fd: v.kvmStatsFd, vcpu: v.index });
    else notes.push(`vCPU ${v.index}: kvm_stats_fd ${v.kvmStatsFd} is not a KVM vCPU stats fd of process ${p.pid}`);
  }
  if (vmFd === undefined && plan.vcpuStatsFds.length === 0) {
    // A host on KVM publishes the fds right after the VM exists; one that holds KVM VMs but has
    // not published this domain's yet is mid-creation. A host without KVM VMs runs simulated guests.
    notes.push(
      p.vmFds.length > 0
        ? 'KVM stats fds not published yet (the domain is being created)'
        : 'the host publishes no KVM stats fds (simulated guests)',
    );
  }
  return plan;
}

/** A live host whose fds we could not list (EACCES) or that holds no KVM fds (simulated backend). */
function hvkitPlanWithoutProcess(t: PlannedTable, skipped: SkippedProcess | undefined): VmPlan {
  const hasKvm = t.identity.dom.vmStatsFd !== undefined || t.identity.vcpus.some((v) => v.kvmStatsFd !== undefined);
  let note: string | undefined;
  if (skipped) note = `host process ${t.name.pid} not inspectable (${skipped.code}): VMM counters only`;
  else if (hasKvm) note = `host process ${t.name.pid} holds no KVM fds any more`;
  return {
    owner: 'hvkit',
    pid: t.name.pid,
    startTime: t.name.startTime,
    comm: skipped?.comm ?? '',
    matchKey: hvkitMatchKey(t.name.uniqueId),
    vcpuStatsFds: [],
    table: t,
    noStatsFd: false,
    notes: note ? [note] : [],
  };
}

function basePlan(p: KvmProcess, discriminator: string): VmPlan {
  return {
    owner: 'other',
    pid: p.pid,
    startTime: p.startTime,
    comm: p.comm,
    matchKey: `pid:${p.pid}:${p.startTime}:${discriminator}`,
    vcpuStatsFds: [],
    noStatsFd: false,
    notes: [],
  };
}

function otherVms(p: KvmProcess): VmPlan[] {
  if (p.vmFds.length === 0 && p.vcpuFds.length === 0) return [];
  const hasStats = p.vmStatsFds.length > 0 || p.vcpuStatsFds.length > 0;
  if (p.vmFds.length <= 1) {
    const vmFd = p.vmFds[0];
    const statsFd = p.vmStatsFds[0] ?? p.vcpuStatsFds[0]?.fd;
    const discriminator =
      vmFd !== undefined ? `vm${vmFd}` : statsFd !== undefined ? `stats${statsFd}` : `vcpu${p.vcpuFds[0]!.fd}`;
    const plan = basePlan(p, discriminator);
    if (vmFd !== undefined) plan.vmFd = vmFd;
    if (p.vmStatsFds.length > 0) plan.vmStatsFd = p.vmStatsFds[0];
    if (p.vmStatsFds.length > 1) plan.notes.push(`${p.vmStatsFds.length} VM stats fds; reading fd ${p.vmStatsFds[0]}`);
    plan.vcpuStatsFds = p.vcpuStatsFds.map((x) => ({ ...x }));
    if (vmFd === undefined) plan.notes.push('holds vCPU fds but no VM fd');
    if (!hasStats) {
      plan.noStatsFd = true;
      plan.notes.push('the VMM holds no KVM stats fd (it may open them only while answering a query)');
    }
    return [plan];
  }
  return p.vmFds.map((vmFd) => {
    const plan = basePlan(p, `vm${vmFd}`);
    plan.vmFd = vmFd;
    plan.noStatsFd = !hasStats;
    plan.notes.push(
      hasStats
        ? `${p.vmFds.length} VMs in one process: its stats fds cannot be told apart (all are kvm-${p.pid})`
        : 'the VMM holds no KVM stats fd (it may open them only while answering a query)',
    );
    return plan;
  });
}

/** KVM VMs of an hvkit host that no table describes (more VM fds than tables). */
function unmappedVms(p: KvmProcess, tables: readonly PlannedTable[]): VmPlan[] {
  const extra = p.vmFds.length - tables.length;
  if (extra <= 0) return [];
  return Array.from({ length: extra }, (_, i) => {
    const plan = basePlan(p, `unmapped${i}`);
    plan.notes.push(`one of ${extra} KVM VMs of hvkit host ${p.pid} not described by a stats table`);
    return plan;
  });
}
