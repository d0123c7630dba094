/**
 * AttachSession: the one way an observer (`hvkit top`, the exporter) sees the host. It finds
 * every KVM VM — hvkit's own domains (stats-table VMM counters and their KVM stats) and other
 * VMMs' VMs (KVM stats, or debugfs when the VMM holds no stats fd) — gives each a stable identity
 * (key, name, pid, domid, unique id), opens its sources safely (region-open.ts, pidfd dups) and
 * samples them lock-free, with lifecycle events between samples.
 *
 * Cost per sample: one poll(2) over the pidfds of all attached processes (exits), one readdir of
 * /dev/shm (hvkit domains created or destroyed), then one pread per attached stats fd and one
 * seqlocked copy per stats table. /proc is rescanned every `rescanEvery` samples, and at once when
 * a process exited, a table came or went, or a read failed. fds stay open between samples and are
 * closed when their VM goes. Nothing here waits on a VM: stats fds and tables never block.
 */

import type { ResolvedAbi } from '../abi/resolved.ts';
import { ClosedError, describeError, isErrno, kindOf } from '../errors.ts';
import type { KvmStatDescriptor } from '../formats/kvm-stats/types.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import { processStartTime, readCmdline } from '../os/procfs.ts';
import { listShmNames } from '../shm/shm-file.ts';
import { DEBUGFS_KVM, DebugfsVm } from './debugfs.ts';
import { discoverKvmProcesses, type SkippedProcess } from './discover.ts';
import { KvmStatsHandle } from './kvm-stats-handle.ts';
import { LifecycleTracker, type TrackedVm } from './lifecycle.ts';
import { exitedProcesses, ProcessHandle } from './pidfd.ts';
import { type Plan, type PlannedTable, planVms, type VmPlan } from './plan.ts';
import type {
  HostSample,
  LifecycleEvent,
  SampleSource,
  StatSample,
  StatsSourceKind,
  VcpuSample,
  VmSample,
} from './sample.ts';
import { debugfsStatSample, KvmStatSampler } from './stat-samples.ts';
import { sameFile } from './sys.ts';
import { HvkitTable, listTableNames, parseTableName, type TableName } from './tables.ts';
import { VmKeyAllocator } from './vm-keys.ts';

export interface AttachSessionOptions {
  /** Rescan /proc every this many samples (default 10); exits and table changes rescan at once. */
  rescanEvery?: number;
  /** debugfs KVM directory for VMMs holding no stats fd (default /sys/kernel/debug/kvm); false: never. */
  debugfs?: string | false;
  /** Include VMs of this very process (e.g. `hvkit demo` runs its host and top together). Default true. */
  includeOwnProcess?: boolean;
  /** The stats-table ABI to read hvkit tables with (default: the newest frozen revision). */
  tableAbi?: ResolvedAbi;
  /** Only VMs of these processes, read at every rescan (default: every process on the host). */
  pids?: readonly number[];
  /** Wall clock for event times, in milliseconds (default Date.now). */
  now?: () => number;
}

/** What the source knows about one VM between samples. */
interface VmRecord {
  plan: VmPlan;
  key: string;
  name: string;
  process?: ProcessHandle;
  table?: HvkitTable;
  vmStats?: KvmStatsHandle;
  vcpuStats: { index: number; handle: KvmStatsHandle }[];
  debugfs?: DebugfsVm;
  /** Problems found when the record was made (kept across re-attaches). */
  baseNotes: string[];
  notes: string[];
  /** notes joined, as a sample's note (made when the notes are). */
  notesText: string;
  /** What the lifecycle tracker needs of this VM (made when its key is). */
  tracked?: TrackedVm;
}

/** Counters of the last rescan, for status lines and tests. */
export interface ScanStatus {
  samples: number;
  rescans: number;
  /** Processes whose fds could not be listed (EACCES: run as root to see every VMM). */
  skipped: SkippedProcess[];
  staleTables: TableName[];
  /** Tables that could not be opened, with the reason. */
  badTables: { name: string; reason: string }[];
}

const DEFAULT_RESCAN_EVERY = 10;

export class AttachSession implements SampleSource {
  readonly #options: Required<Omit<AttachSessionOptions, 'tableAbi' | 'pids'>> &
    Pick<AttachSessionOptions, 'tableAbi' | 'pids'>;
  readonly #records = new Map<string, VmRecord>();
  readonly #processes = new Map<string, { handle: ProcessHandle; users: number }>();
  readonly #tables = new Map<string, HvkitTable>();
  readonly #tracker = new LifecycleTracker();
  readonly #keys = new VmKeyAllocator();
  readonly #cmdlines = new Map<string, string[] | undefined>();
  /** KVM stat descriptors by name, from every layout seen: types for debugfs files. */
  readonly #knownStats = new Map<string, KvmStatDescriptor>();
  /** Per attached stats fd: its samples reused while unchanged (stat-samples.ts). */
  readonly #samplers = new WeakMap<KvmStatsHandle, KvmStatSampler>();
  #tableNames = new Set<string>();
  /** /dev/shm names seen since the last rescan that are no table of ours (other files, other pids). */
  #ignoredNames = new Set<string>();
  #samplesSinceScan = Number.POSITIVE_INFINITY;
  #forceRescan = true;
  /** The records changed (a rescan) since the lifecycle tracker last saw them. */
  #trackerStale = true;
  #closed = false;
  readonly status: ScanStatus = { samples: 0, rescans: 0, skipped: [], staleTables: [], badTables: [] };

  /** Keys remembered for other VMMs' VMs (bounded by the VMs of live processes). */
  get rememberedKeys(): number {
    return this.#keys.size;
  }

  constructor(options: AttachSessionOptions = {}) {
    const rescanEvery = options.rescanEvery ?? DEFAULT_RESCAN_EVERY;
    if (!Number.isInteger(rescanEvery) || rescanEvery < 1)
      throw new RangeError(`rescanEvery must be ≥ 1: ${rescanEvery}`);
    this.#options = {
      rescanEvery,
      debugfs: options.debugfs ?? DEBUGFS_KVM,
      includeOwnProcess: options.includeOwnProcess ?? true,
      now: options.now ?? Date.now,
      ...(options.tableAbi ? { tableAbi: options.tableAbi } : {}),
      ...(options.pids ? { pids: options.pids } : {}),
    };
  }

  sample(): HostSample {
    if (this.#closed) throw new ClosedError('the attach session');
    this.#checkChanges();
    if (this.#forceRescan || this.#samplesSinceScan >= this.#options.rescanEvery) this.#rescan();
    // After the rescan, which may take long: the reads follow.
    const at = process.hrtime.bigint();
    this.#samplesSinceScan++;
    this.status.samples++;
    const vms: VmSample[] = new Array(this.#records.size);
    let i = 0;
    for (const r of this.#records.values()) vms[i++] = this.#read(r);
    // The set of VMs changes only in a rescan: between rescans the tracker would find no event.
    let events: LifecycleEvent[] = [];
    if (this.#trackerStale) {
      this.#trackerStale = false;
      const vmsNow: TrackedVm[] = [];
      for (const r of this.#records.values()) vmsNow.push(r.tracked ?? tracked(r));
      events = this.#tracker.update(vmsNow, this.#options.now());
    }
    return { at, vms, events };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#records.values()) this.#release(r);
    this.#records.clear();
    for (const t of this.#tables.values()) t.close();
    this.#tables.clear();
    for (const p of this.#processes.values()) p.handle.close();
    this.#processes.clear();
  }

  /**
   * Cheap checks every sample: exited processes (one poll) and the set of hvkit tables (one
   * readdir, names compared with those of the last rescan; only a name not seen then is parsed).
   */
  #checkChanges(): void {
    if (this.#processes.size > 0) {
      const handles: ProcessHandle[] = [];
      for (const p of this.#processes.values()) handles.push(p.handle);
      if (exitedProcesses(handles).size > 0) this.#forceRescan = true;
    }
    if (this.#forceRescan) return; // the rescan lists the tables anyway
    const known = this.#tableNames;
    const pids = this.#options.pids;
    const ignored = this.#ignoredNames;
    let seen = 0;
    for (const name of listShmNames()) {
      if (known.has(name)) {
        seen++;
        continue;
      }
      if (ignored.has(name)) continue;
      const t = parseTableName(name);
      if (t && (!pids || pids.includes(t.pid))) {
        this.#forceRescan = true;
        return;
      }
      ignored.add(name); // not a table, or another process's: never parsed again until the next rescan
    }
    if (seen !== known.size) this.#forceRescan = true;
  }

  #listTables(): TableName[] {
    const pids = this.#options.pids;
    const all = listTableNames();
    return pids ? all.filter((t) => pids.includes(t.pid)) : all;
  }

  #rescan(): void {
    this.#forceRescan = false;
    this.#samplesSinceScan = 0;
    this.status.rescans++;
    const own = new Set<number>();
    for (const r of this.#records.values()) {
      for (const h of [r.vmStats, ...r.vcpuStats.map((v) => v.handle)]) if (h?.fd !== undefined) own.add(h.fd);
    }
    const found = discoverKvmProcesses({
      ...(this.#options.pids ? { pids: this.#options.pids } : {}),
      excludePid: this.#options.includeOwnProcess ? null : process.pid,
      ignoreFds: new Map([[process.pid, own]]),
    });
    // One read of /proc/PID/stat per process per rescan, not one per table (a host has many).
    const known = new Map<number, bigint | undefined>();
    const startTimes = (pid: number): bigint | undefined => {
      if (!known.has(pid)) known.set(pid, processStartTime(pid));
      return known.get(pid);
    };
    const tables = this.#refreshTables(startTimes);
    const plan: Plan = planVms({
      processes: found.processes,
      skipped: found.skipped,
      tables,
      alive: (pid, start) => startTimes(pid) === start,
    });
    this.status.skipped = found.skipped;
    this.status.staleTables = plan.staleTables;
    this.#reconcile(plan.vms);
    const current = new Set([...this.#records.values()].map((r) => `${r.plan.pid}:${r.plan.startTime}`));
    this.#keys.prune(current, (pid, start) => startTimes(pid) === start);
  }

  /** Opens tables that appeared, closes those that went; returns the open ones with their identity. */
  #refreshTables(startTimes: (pid: number) => bigint | undefined): PlannedTable[] {
    const listed = this.#listTables();
    this.#tableNames = new Set(listed.map((t) => t.name));
    this.#ignoredNames = new Set();
    for (const [name, table] of this.#tables) {
      if (!this.#tableNames.has(name)) {
        table.close();
        this.#tables.delete(name);
      }
    }
    const bad: ScanStatus['badTables'] = [];
    const out: PlannedTable[] = [];
    for (const t of listed) {
      let table = this.#tables.get(t.name);
      if (!table) {
        if (startTimes(t.pid) !== t.startTime) continue; // stale: its host is gone; planVms reports it
        try {
          table = HvkitTable.open(t, this.#options.tableAbi ?? shippedStatsTableAbi());
        } catch (err) {
          // Another host's table may be corrupt, gone or refused: a note, not our failure. A defect is.
          if (!isExpectedReadFailure(err)) throw err;
          bad.push({ name: t.name, reason: describeError(err) });
          continue;
        }
        this.#tables.set(t.name, table);
      }
      out.push({ name: t, identity: table.identity });
    }
    // A table of a dead host is listed, not opened: give planVms its name so it is reported stale.
    for (const t of listed) {
      if (!this.#tables.has(t.name) && !bad.some((b) => b.name === t.name)) {
        out.push({ name: t, identity: { dom: {}, vcpus: [] } });
      }
    }
    this.status.badTables = bad;
    return out;
  }

  #reconcile(plans: VmPlan[]): void {
    this.#trackerStale = true;
    const next = new Map<string, VmPlan>(plans.map((p) => [p.matchKey, p]));
    for (const [matchKey, r] of this.#records) {
      const p = next.get(matchKey);
      if (!p || p.startTime !== r.plan.startTime) {
        this.#release(r);
        this.#records.delete(matchKey);
      }
    }
    for (const p of plans) {
      const existing = this.#records.get(p.matchKey);
      if (existing && statsUnchanged(existing, p)) {
        existing.plan = p;
        existing.tracked = tracked(existing);
        continue;
      }
      if (existing) this.#detachStats(existing);
      const r = existing ?? this.#newRecord(p);
      r.plan = p;
      this.#attach(r);
      this.#records.set(p.matchKey, r);
    }
  }

  #newRecord(p: VmPlan): VmRecord {
    const table = p.table ? this.#tables.get(p.table.name.name) : undefined;
    const r: VmRecord = {
      plan: p,
      key: '',
      name: this.#vmName(p),
      vcpuStats: [],
      baseNotes: [],
      notes: [],
      notesText: '',
    };
    if (table) r.table = table;
    const processKey = `${p.pid}:${p.startTime}`;
    let proc = this.#processes.get(processKey);
    if (!proc && p.comm !== '') {
      const opened = ProcessHandle.open(p.pid, p.startTime);
      if (opened instanceof ProcessHandle) {
        proc = { handle: opened, users: 0 };
        this.#processes.set(processKey, proc);
      } else {
        r.baseNotes.push(`pidfd_open failed: ${opened.code}`);
      }
    }
    if (proc) {
      proc.users++;
      r.process = proc.handle;
    }
    return r;
  }

  /** Duplicates the plan's stats fds (or opens debugfs), then fixes the VM's key. */
  #attach(r: VmRecord): void {
    const p = r.plan;
    const failures = new Set<string>();
    if (r.process) {
      if (p.vmStatsFd !== undefined) {
        const a = KvmStatsHandle.attach(r.process, p.vmStatsFd);
        if (a.ok) r.vmStats = a.handle;
        else failures.add(`VM stats fd ${p.vmStatsFd}: ${a.text}`);
      }
      for (const v of p.vcpuStatsFds) {
        const a = KvmStatsHandle.attach(r.process, v.fd);
        if (!a.ok) {
          failures.add(`vCPU stats: ${a.text}`);
          continue;
        }
        const index = a.handle.vcpuIndex ?? v.vcpu;
        if (index === undefined) {
          a.handle.close();
          failures.add(`vCPU stats fd ${v.fd}: no vCPU index in its id`);
          continue;
        }
        r.vcpuStats.push({ index, handle: a.handle });
      }
      r.vcpuStats.sort((a, b) => a.index - b.index);
    }
    for (const h of [r.vmStats, ...r.vcpuStats.map((v) => v.handle)]) {
      if (h) for (const [name, d] of h.reader.layout.byName) this.#knownStats.set(name, d);
    }
    if (p.noStatsFd && p.vmFd !== undefined && this.#options.debugfs !== false) {
      const d = DebugfsVm.open(p.pid, p.vmFd, { root: this.#options.debugfs });
      if (typeof d === 'string') failures.add(`debugfs fallback unavailable: ${d}`);
      else {
        r.debugfs = d;
        const refused = d.unreadable.filter((u) => /^E[A-Z]+$/.test(u.code));
        if (refused.length > 0) {
          failures.add(
            `debugfs: ${refused.length} stat files unreadable (${refused[0]!.code}${refused[0]!.code === 'EPERM' ? ': kernel lockdown refuses writable debugfs files' : ''})`,
          );
        }
        failures.add('debugfs has VM-wide totals only (no per-vCPU stats)');
      }
    }
    r.notes = [...new Set([...r.baseNotes, ...p.notes, ...failures])];
    r.notesText = r.notes.join('; ');
    if (r.key === '') r.key = this.#vmKey(r);
    r.tracked = tracked(r);
  }

  #vmKey(r: VmRecord): string {
    const p = r.plan;
    if (p.owner === 'hvkit' && p.table) return p.matchKey;
    const statsId = (r.vmStats?.id ?? r.vcpuStats[0]?.handle.id.split('/')[0]) || `kvm-${p.pid}`;
    const several = [...this.#records.values()].some(
      (o) => o !== r && o.plan.pid === p.pid && o.plan.owner === 'other',
    );
    let key = `pid:${p.pid}:${p.startTime}:${statsId}`;
    if (several || p.vmFd === undefined || p.matchKey.includes('unmapped')) key += `:${p.matchKey.split(':').at(-1)}`;
    // A VM re-created under the same identity within this source's life still gets a new key.
    return this.#keys.allocate(`${p.pid}:${p.startTime}`, key);
  }

  #vmName(p: VmPlan): string {
    // hvkit's domains: the name the host published in the table (rev ≥ 5), else dom<domid>.
    if (p.owner === 'hvkit' && p.table) return p.table.identity.dom.name ?? `dom${p.table.name.domid}`;
    const processKey = `${p.pid}:${p.startTime}`;
    if (!this.#cmdlines.has(processKey)) this.#cmdlines.set(processKey, readCmdline(p.pid));
    const guest = guestName(this.#cmdlines.get(processKey));
    const base = guest ?? `${p.comm || 'pid'}[${p.pid}]`;
    return p.vmFd !== undefined && p.matchKey.endsWith(`vm${p.vmFd}`) && p.notes.some((n) => n.includes('VMs in one'))
      ? `${base}/vm${p.vmFd}`
      : base;
  }

  #read(r: VmRecord): VmSample {
    const p = r.plan;
    const at = process.hrtime.bigint();
    let vm: StatSample[] = [];
    /** Per-vCPU lists by index: a table lists every vCPU in order, KVM stats fds add to them. */
    let vcpus: VcpuSample[] = [];
    const sources: StatsSourceKind[] = [];
    const notes: string[] = [];
    try {
      if (r.table) {
        const t = r.table.sample();
        if (r.table.takeIdentityChange()) this.#forceRescan = true;
        sources.push('stats-table');
        // The table's lists may be those of the previous sample (immutable): copied before KVM stats join them.
        const joined = r.vmStats !== undefined || r.vcpuStats.length > 0 || r.debugfs !== undefined;
        vm = joined ? [...t.vm] : t.vm;
        vcpus = joined ? t.vcpus.map((v) => ({ index: v.index, stats: [...v.stats] })) : t.vcpus;
        if (t.tornCount > 0) notes.push(`${t.tornCount} stats-table groups torn in this sample`);
      }
      if (r.vmStats || r.vcpuStats.length > 0) sources.push('kvm-stats-fd');
      if (r.vmStats) appendAll(vm, this.#samplerOf(r.vmStats).samples(r.vmStats.read()));
      for (const { index, handle } of r.vcpuStats) {
        appendAll(vcpuStats(vcpus, index), this.#samplerOf(handle).samples(handle.read()));
      }
      if (r.debugfs) {
        sources.push('debugfs');
        const values = r.debugfs.read();
        r.debugfs.stats.forEach((s, i) => {
          const v = values[i];
          if (v !== undefined) vm.push(debugfsStatSample(s, v, this.#knownStats));
        });
      }
    } catch (err) {
      if (!isExpectedReadFailure(err)) throw err;
      notes.push(`read failed: ${describeError(err)}`);
      this.#forceRescan = true;
    }
    if (sources.length === 0) sources.push('none');
    const sample: VmSample = {
      key: r.key,
      name: r.name,
      pid: p.pid,
      at,
      owner: p.owner === 'hvkit' && p.table ? 'hvkit' : 'other',
      sources,
      vm,
      vcpus,
    };
    if (p.table) {
      sample.domid = p.table.name.domid;
      sample.uniqueId = p.table.name.uniqueId;
    }
    if (notes.length > 0) sample.note = [...r.notes, ...notes].join('; ');
    else if (r.notes.length > 0) sample.note = r.notesText;
    return sample;
  }

  /** The sampler of an attached stats fd (made at its first sample, dropped with the handle). */
  #samplerOf(handle: KvmStatsHandle): KvmStatSampler {
    let sampler = this.#samplers.get(handle);
    if (!sampler) {
      sampler = new KvmStatSampler(handle.reader.layout);
      this.#samplers.set(handle, sampler);
    }
    return sampler;
  }

  #detachStats(r: VmRecord): void {
    r.vmStats?.close();
    r.vmStats = undefined;
    for (const v of r.vcpuStats) v.handle.close();
    r.vcpuStats = [];
    r.debugfs?.close();
    r.debugfs = undefined;
  }

  #release(r: VmRecord): void {
    this.#detachStats(r);
    if (!r.process) return;
    const key = `${r.process.pid}:${r.process.startTime}`;
    const proc = this.#processes.get(key);
    if (proc && --proc.users <= 0) {
      proc.handle.close();
      this.#processes.delete(key);
      this.#cmdlines.delete(key);
    }
  }
}

function tracked(r: VmRecord): TrackedVm {
  const p = r.plan;
  const t: TrackedVm = { key: r.key, name: r.name, owner: p.owner === 'hvkit' && p.table ? 'hvkit' : 'other' };
  if (p.table) {
    t.host = `${p.table.name.pid}:${p.table.name.startTime}`;
    t.domid = p.table.name.domid;
    t.uniqueId = p.table.name.uniqueId;
  }
  return t;
}

/**
 * True when the attached stats are still those the plan names: same owner fds, and (where kcmp
 * can tell) still the same open files — a VM destroyed and re-created under the same fd numbers
 * is re-attached.
 */
function statsUnchanged(r: VmRecord, p: VmPlan): boolean {
  const before = r.plan;
  if (before.noStatsFd !== p.noStatsFd || before.vmStatsFd !== p.vmStatsFd) return false;
  const fds = (plan: VmPlan) => plan.vcpuStatsFds.map((v) => `${v.fd}:${v.vcpu}`).join(',');
  if (fds(before) !== fds(p)) return false;
  const first = r.vmStats ?? r.vcpuStats[0]?.handle;
  if (!first || first.fd === undefined) return true;
  try {
    return sameFile(p.pid, first.ownerFd, process.pid, first.fd);
  } catch (e) {
    // kcmp unavailable (ENOSYS, EPERM) or a process gone meanwhile: fd numbers are all we can compare.
    if (isErrno(e, 'ENOSYS', 'EPERM', 'EACCES', 'ESRCH', 'EBADF')) return true;
    throw e;
  }
}

/** The guest name from a VMM command line (QEMU's `-name guest=X,...` or `-name X`), if any. */
export function guestName(cmdline: readonly string[] | undefined): string | undefined {
  if (!cmdline) return undefined;
  const i = cmdline.indexOf('-name');
  const arg = i >= 0 ? cmdline[i + 1] : undefined;
  if (!arg) return undefined;
  const first = arg.split(/(?<!,),(?!,)/)[0]!;
  const name = first.startsWith('guest=') ? first.slice(6) : first.includes('=') ? undefined : first;
  return name === undefined || name === '' ? undefined : name.replaceAll(',,', ',');
}

/**
 * The stats list of vCPU `index` in `vcpus` (kept sorted by index), added when missing. The
 * indexes come sorted from a table and from the attached fds, so this is the last entry or a scan.
 */
function vcpuStats(vcpus: VcpuSample[], index: number): StatSample[] {
  const last = vcpus.at(-1);
  if (last?.index === index) return last.stats;
  if (last === undefined || last.index < index) {
    const added: VcpuSample = { index, stats: [] };
    vcpus.push(added);
    return added.stats;
  }
  let i = 0;
  while (vcpus[i]!.index < index) i++;
  if (vcpus[i]!.index === index) return vcpus[i]!.stats;
  const added: VcpuSample = { index, stats: [] };
  vcpus.splice(i, 0, added);
  return added.stats;
}

/** Appends by a loop: spreading a stats file's samples (up to 65536 descriptors) into push() can overflow the stack. */
function appendAll<T>(to: T[], more: readonly T[]): void {
  for (const x of more) to.push(x);
}

/** What reading another process's stats may meet: a bad or vanished input (ours or the system's errors), not a defect. */
function isExpectedReadFailure(err: unknown): boolean {
  const kind = kindOf(err);
  return kind === 'format' || kind === 'environment';
}
