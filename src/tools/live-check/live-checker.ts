/**
 * `hvkit check --attach PID… | --all` as a library: finds the VMs of the named processes (or of
 * every process), duplicates every KVM stats fd they hold (VM and vCPU, pidfd_getfd), opens an
 * hvkit host's stats tables and domain directory, and checks all of them sample after sample.
 * Each distinct violation is reported once (subject, field, rule), with the time it was first seen.
 *
 * Verdict: errors → 1; otherwise a VMM whose VMs could not be checked at all (no stats fd, as
 * QEMU 7.2 holds none; no permission to duplicate them) → 2, so nothing passes silently;
 * otherwise 0. With --all, processes whose fds may not even be listed are only listed: nothing
 * says they run a VM.
 *
 * Watching runs for days on a host whose VMs come and go, so what it keeps is bounded by what is
 * there now: a stats fd the VMM closed (or reused for another VM: kcmp tells) and a region its
 * host removed are closed and forgotten; an exited process keeps a short record (the last
 * `keepExited`), older ones only count towards the verdict; a process keeps at most
 * MAX_VIOLATIONS_KEPT violations (all are counted).
 */
import { readlinkSync } from 'node:fs';
import { classifyKvmFds, type KvmProcess, parseKvmFdTarget } from '../../attach/discover.ts';
import { dupFailureText, ProcessHandle } from '../../attach/pidfd.ts';
import { sameFile } from '../../attach/sys.ts';
import { parseTableName } from '../../attach/tables.ts';
import { EnvironmentError, errorCode, FormatError, type Violation } from '../../errors.ts';
import { close } from '../../os/libc.ts';
import { FileRefusedError } from '../../os/open-input.ts';
import { listPids, readFdLinks, readProcessIdentity } from '../../os/procfs.ts';
import { parseRegionName } from '../../shm/region-names.ts';
import { listShmNames } from '../../shm/shm-file.ts';
import { DirectorySubject, KvmStatsSubject, type Subject, TableSubject } from './subjects.ts';

export interface LiveCheckOptions {
  /** Only these processes (each must exist, be ours to inspect, and run a VM or an hvkit host). */
  pids?: readonly number[];
  /** Wall clock for finding times, in milliseconds (default Date.now). */
  now?: () => number;
  /** Exited processes reported one by one (default DEFAULT_KEEP_EXITED); older ones are only counted. */
  keepExited?: number;
}

/** Exited processes kept with their record by default. */
export const DEFAULT_KEEP_EXITED = 64;
/** Violations kept per process for the report (each is printed when found; all are counted). */
export const MAX_VIOLATIONS_KEPT = 1000;

/**
 * Rules a reader can see broken for a moment on a sound producer: a seqlock whose writer was
 * descheduled mid-update stays odd for longer than the reader's bounded retries. Reported only
 * when two consecutive samples of the same subject see the same field broken.
 */
const TRANSIENT_RULES: ReadonlySet<string> = new Set(['seq-odd']);

/**
 * Of one sample's violations, those to report: every violation of a rule that is not transient,
 * and a transient one only when the previous sample (`pending`) saw the same field and rule.
 * Returns them with the transient ones of this sample (the next call's `pending`).
 */
export function confirmTransient(
  violations: readonly Violation[],
  pending: ReadonlySet<string>,
): { report: Violation[]; pending: Set<string> } {
  const report: Violation[] = [];
  const seen = new Set<string>();
  for (const v of violations) {
    if (TRANSIENT_RULES.has(v.rule)) {
      const key = `${v.field} ${v.rule}`;
      seen.add(key);
      if (!pending.has(key)) continue;
    }
    report.push(v);
  }
  return { report, pending: seen };
}

/** One checked subject: how many samples it had, and its transient violations of the last one. */
interface SubjectEntry {
  subject: Subject;
  samples: number;
  pending: Set<string>;
}

/** What an exited process's report keeps of a subject (the subject itself is closed and dropped). */
interface SubjectSummary {
  kind: string;
  label: string;
  id?: string;
  samples: number;
}

export interface LiveFinding {
  at: number;
  pid: number;
  comm: string;
  subject: string;
  violation: Violation;
}

export type LiveEventKind = 'appeared' | 'disappeared' | 'unchecked' | 'note';

export interface LiveEvent {
  at: number;
  pid: number;
  comm: string;
  kind: LiveEventKind;
  text: string;
}

export interface VmReport {
  pid: number;
  comm: string;
  startTime: string;
  subjects: { kind: string; label: string; id?: string; samples: number }[];
  /** The first MAX_VIOLATIONS_KEPT violations found; `errors` and `warnings` count them all. */
  violations: (Violation & { subject: string })[];
  /** Why nothing could be checked, when nothing could. */
  unchecked?: string;
  /** Left the check: exited, or (with `stillRunning`) alive but holding no VM any more. */
  exited: boolean;
  stillRunning?: true;
  errors: number;
  warnings: number;
}

/** What the processes that exited before the last `keepExited` saw, counted. */
export interface EarlierExited {
  processes: number;
  errors: number;
  warnings: number;
  unchecked: number;
}

export interface LiveReport {
  vms: VmReport[];
  /**
   * Processes (with --all) whose fds could not be listed: whether they run a VM cannot be told, so
   * they are listed (run as root to check every VMM) but do not change the exit status.
   */
  skipped: { pid: number; comm?: string; reason: string }[];
  /** Present once more processes exited than are kept one by one. */
  earlierExited?: EarlierExited;
  errors: number;
  warnings: number;
  unchecked: number;
}

interface Tracked {
  pid: number;
  startTime: bigint;
  comm: string;
  handle?: ProcessHandle;
  subjects: Map<string, SubjectEntry>;
  /** Set when the process left: what the report shows of its subjects. */
  summaries?: SubjectSummary[];
  /** Subjects that could not be opened (so they are not retried every sample). */
  refused: Set<string>;
  violations: (Violation & { subject: string })[];
  /** Every violation found, counted (violations keeps the first MAX_VIOLATIONS_KEPT). */
  errors: number;
  warnings: number;
  /** Violations already reported: "subject field rule". */
  seen: Set<string>;
  unchecked?: string;
  exited: boolean;
  /** Left the check while still running (no VM any more, or fds no longer listable). */
  stillRunning?: true;
  released: boolean;
  /** The KVM fds the last scan found in the process. */
  kvm?: KvmProcess;
  /** Table fds found not to be stats fds at the last sample (reported when seen twice running). */
  badFds: Set<string>;
  /** Ever checked anything (a subject sampled at least once). */
  checked: boolean;
}

export class LiveChecker {
  readonly #pids: readonly number[] | undefined;
  readonly #now: () => number;
  readonly #keepExited: number;
  /** Processes running (or not yet found exited), by "pid:startTime". */
  readonly #tracked = new Map<string, Tracked>();
  /** The last `keepExited` processes that exited, oldest first. */
  readonly #exited: Tracked[] = [];
  readonly #earlier: EarlierExited = { processes: 0, errors: 0, warnings: 0, unchecked: 0 };
  /** The processes of the last scan whose fds could not be listed. */
  #skipped = new Map<number, { pid: number; comm?: string; reason: string }>();
  #first = true;

  constructor(options: LiveCheckOptions = {}) {
    this.#pids = options.pids;
    this.#now = options.now ?? Date.now;
    this.#keepExited = Math.max(0, options.keepExited ?? DEFAULT_KEEP_EXITED);
  }

  /**
   * Rescans, then takes one more sample of every subject. Returns the violations not seen
   * before and what changed (VMs appearing, leaving, found uncheckable). The first call throws an
   * EnvironmentError for a named process that does not exist, may not be inspected, or runs no VM.
   */
  sample(): { findings: LiveFinding[]; events: LiveEvent[] } {
    const at = this.#now();
    const events: LiveEvent[] = [];
    // A region refused when opened is a finding of this sample too.
    const findings: LiveFinding[] = [];
    this.#scan(at, events, findings);
    this.#first = false;
    for (const t of this.#tracked.values()) {
      for (const [key, s] of t.subjects) {
        let violations: Violation[];
        try {
          violations = s.subject.sample();
        } catch (err) {
          if (!(err instanceof EnvironmentError)) throw err;
          // A region of a host that is going away (a copy that was truncated): it leaves, and
          // is not opened again while its name stays (its violations would be counted twice).
          this.#retire(t, key);
          t.refused.add(key);
          events.push(event(at, t, 'note', `${s.subject.label}: no longer readable: ${err.message}`));
          continue;
        }
        s.samples++;
        t.checked = true;
        const confirmed = confirmTransient(violations, s.pending);
        s.pending = confirmed.pending;
        for (const v of confirmed.report) this.#record(at, t, s.subject.label, v, findings);
      }
      this.#checkTableFds(at, t, findings);
    }
    return { findings, events };
  }

  report(): LiveReport {
    const vms: VmReport[] = [];
    let errors = 0;
    let warnings = 0;
    let unchecked = 0;
    for (const t of [...this.#exited, ...this.#tracked.values()]) {
      const vm: VmReport = {
        pid: t.pid,
        comm: t.comm,
        startTime: t.startTime.toString(),
        subjects: t.summaries ?? summarize(t.subjects),
        violations: t.violations,
        exited: t.exited,
        ...(t.stillRunning ? { stillRunning: true as const } : {}),
        errors: t.errors,
        warnings: t.warnings,
      };
      if (!t.checked) {
        vm.unchecked = t.unchecked ?? 'nothing could be checked';
        unchecked++;
      }
      errors += t.errors;
      warnings += t.warnings;
      vms.push(vm);
    }
    const skipped = [...this.#skipped.values()];
    const earlier = this.#earlier.processes > 0 ? { earlierExited: { ...this.#earlier } } : {};
    return {
      vms,
      skipped,
      ...earlier,
      errors: errors + this.#earlier.errors,
      warnings: warnings + this.#earlier.warnings,
      unchecked: unchecked + this.#earlier.unchecked,
    };
  }

  close(): void {
    for (const t of this.#tracked.values()) release(t);
  }

  #record(at: number, t: Tracked, subject: string, v: Violation, findings: LiveFinding[]): void {
    const key = `${subject} ${v.field} ${v.rule}`;
    if (t.seen.has(key)) return;
    t.seen.add(key);
    if (v.severity === 'error') t.errors++;
    else t.warnings++;
    if (t.violations.length < MAX_VIOLATIONS_KEPT) t.violations.push({ subject, ...v });
    findings.push({ at, pid: t.pid, comm: t.comm, subject, violation: v });
  }

  /**
   * Stops checking one subject (its fd or region is gone): closes it, and forgets which of its
   * violations were reported, so a new subject under the same label (a VM re-created under the
   * same fd numbers) is reported on its own.
   */
  #retire(t: Tracked, key: string): void {
    const s = t.subjects.get(key);
    if (!s) return;
    s.subject.close();
    t.subjects.delete(key);
    const prefix = `${s.subject.label} `;
    for (const seen of t.seen) if (seen.startsWith(prefix)) t.seen.delete(seen);
  }

  /**
   * Retires the subjects whose source the process no longer has: a stats fd no longer among its
   * stats fds or, under the same number, another open file (a VM destroyed and re-created); a
   * region its host removed. What could not be opened is tried again once its fd or name went.
   */
  #retireGone(t: Tracked, kvm: KvmProcess | undefined, own: readonly string[], at: number, events: LiveEvent[]) {
    const statsFds = new Set([...(kvm?.vmStatsFds ?? []), ...(kvm?.vcpuStatsFds ?? []).map((f) => f.fd)]);
    const regions = new Set(own);
    const present = (key: string) =>
      key.startsWith('fd:') ? statsFds.has(Number(key.slice(3))) : regions.has(key.slice('shm:'.length));
    const gone: string[] = [];
    for (const [key, { subject }] of t.subjects) {
      const still =
        present(key) &&
        (!(subject instanceof KvmStatsSubject) || this.#sameStatsFile(t, Number(key.slice(3)), subject));
      if (still) continue;
      gone.push(subject.label);
      this.#retire(t, key);
    }
    for (const key of t.refused) if (!present(key)) t.refused.delete(key);
    if (gone.length > 0)
      events.push(event(at, t, 'note', `gone from the process, no longer checked: ${gone.join(', ')}`));
  }

  /** Whether our duplicate is still the file the process holds at `fd` (kcmp, where the kernel has it). */
  #sameStatsFile(t: Tracked, fd: number, subject: KvmStatsSubject): boolean {
    const ours = subject.fd;
    if (ours === undefined) return false;
    try {
      return sameFile(t.pid, fd, process.pid, ours);
    } catch (e) {
      const code = errorCode(e);
      if (code === 'EBADF') return false; // closed since the listing
      // No kcmp (ENOSYS, EPERM) or the process exiting (ESRCH, seen at the next scan): keep it.
      if (code === 'ENOSYS' || code === 'EPERM' || code === 'EACCES' || code === 'ESRCH') return true;
      throw e;
    }
  }

  /**
   * A process exited (or, alive, no longer runs a VM or may no longer be looked into): its fds and
   * mappings are released and its record kept, bounded; a later VM of it is a new record.
   */
  #leave(key: string, t: Tracked, at: number, events: LiveEvent[]): void {
    t.exited = true;
    t.summaries = summarize(t.subjects);
    release(t);
    t.subjects.clear();
    t.seen.clear();
    t.refused.clear();
    t.badFds.clear();
    t.kvm = undefined;
    this.#tracked.delete(key);
    this.#exited.push(t);
    while (this.#exited.length > this.#keepExited) {
      const old = this.#exited.shift()!;
      this.#earlier.processes++;
      this.#earlier.errors += old.errors;
      this.#earlier.warnings += old.warnings;
      if (!old.checked) this.#earlier.unchecked++;
    }
    // A zombie (exited, not yet reaped by its parent) has exited.
    const now = readProcessIdentity(t.pid);
    const alive = now?.startTime === t.startTime && now.state !== 'Z' && now.state !== 'X';
    if (alive) t.stillRunning = true;
    const why = alive ? 'it runs no VM any more (or its fds may no longer be listed)' : 'the process exited';
    events.push(event(at, t, 'disappeared', why));
  }

  /**
   * An hvkit table names its VM's stats fds in its owner process (identity words vm_stats_fd and
   * each vCPU's kvm_stats_fd); each must be a KVM stats fd of the right kind there. A domain being
   * torn down may close its fds just before its table goes, so a wrong fd is reported only when two
   * consecutive samples both see it.
   */
  #checkTableFds(at: number, t: Tracked, findings: LiveFinding[]): void {
    const vmStats = new Set(t.kvm?.vmStatsFds ?? []);
    const vcpuStats = new Set((t.kvm?.vcpuStatsFds ?? []).map((f) => f.fd));
    const bad = new Set<string>();
    for (const { subject } of t.subjects.values()) {
      if (!(subject instanceof TableSubject)) continue;
      const id = subject.identity;
      if (!id) continue;
      const check = (field: string, fd: number | undefined, ok: Set<number>, what: string) => {
        if (fd === undefined || ok.has(fd)) return;
        const key = `${subject.label} ${field} ${fd}`;
        bad.add(key);
        if (!t.badFds.has(key)) return;
        this.#record(
          at,
          t,
          subject.label,
          {
            field,
            rule: 'not-a-stats-fd',
            severity: 'error',
            message: `names fd ${fd}, which is not a ${what} stats fd of process ${t.pid}`,
            value: String(fd),
          },
          findings,
        );
      };
      check('dom.vm_stats_fd', id.dom.vmStatsFd, vmStats, 'KVM VM');
      for (const v of id.vcpus) check(`vcpu[${v.index}].kvm_stats_fd`, v.kvmStatsFd, vcpuStats, 'KVM vCPU');
    }
    t.badFds = bad;
  }

  #scan(at: number, events: LiveEvent[], findings: LiveFinding[]): void {
    const regions = regionsByProcess();
    const pids = this.#pids ?? [
      ...new Set([...listPids(), ...[...regions.keys()].map((k) => Number(k.split(':')[0]))]),
    ];
    const alive = new Set<string>();
    const skipped = new Map<number, { pid: number; comm?: string; reason: string }>();
    for (const pid of pids) {
      if (pid === process.pid) continue;
      const t = this.#scanProcess(pid, regions, skipped, at, events, findings);
      if (t) alive.add(`${t.pid}:${t.startTime}`);
    }
    this.#skipped = skipped;
    for (const [key, t] of this.#tracked) if (!alive.has(key)) this.#leave(key, t, at, events);
  }

  /** Finds (or refreshes) one process's subjects; undefined when it runs no VM (or is gone). */
  #scanProcess(
    pid: number,
    regions: Map<string, string[]>,
    skipped: Map<number, { pid: number; comm?: string; reason: string }>,
    at: number,
    events: LiveEvent[],
    findings: LiveFinding[],
  ): Tracked | undefined {
    const named = this.#pids !== undefined && this.#first;
    const identity = readProcessIdentity(pid);
    if (!identity) {
      if (named) throw new EnvironmentError(`no such process: ${pid}`);
      return undefined;
    }
    const listing = readFdLinks(pid, (target) => target.startsWith('anon_inode:kvm-'));
    if (!listing.ok) {
      if (listing.code === 'ENOENT' || listing.code === 'ESRCH') {
        if (named) throw new EnvironmentError(`no such process: ${pid} (it exited)`);
        return undefined;
      }
      const reason = `cannot list its fds (${listing.code}): run as root or as the user it runs as`;
      if (named) throw new EnvironmentError(`process ${pid} (${identity.comm}): ${reason}`);
      skipped.set(pid, { pid, comm: identity.comm, reason });
      return undefined;
    }
    const kvm = classifyKvmFds(identity, listing.fds);
    const own = regions.get(`${pid}:${identity.startTime}`) ?? [];
    // Stats fds without a VM or vCPU fd are an observer's duplicates (another hvkit top/check).
    const runsVm = kvm !== undefined && kvm.vmFds.length + kvm.vcpuFds.length > 0;
    if (!runsVm && own.length === 0) {
      if (named) {
        const what = kvm ? 'it holds only KVM stats fds (an observer, like hvkit top)' : 'it holds no KVM VM fd';
        throw new EnvironmentError(
          `process ${pid} (${identity.comm}) is not a VMM: ${what} and no hvkit stats table or domain directory`,
        );
      }
      return undefined;
    }
    const key = `${pid}:${identity.startTime}`;
    let t = this.#tracked.get(key);
    if (!t) {
      t = {
        pid,
        startTime: identity.startTime,
        comm: identity.comm,
        subjects: new Map(),
        refused: new Set(),
        violations: [],
        errors: 0,
        warnings: 0,
        seen: new Set(),
        exited: false,
        released: false,
        badFds: new Set(),
        checked: false,
      };
      this.#tracked.set(key, t);
      events.push(event(at, t, 'appeared', describeProcess(kvm, own)));
    }
    t.kvm = kvm;
    this.#retireGone(t, kvm, own, at, events);
    if (kvm && runsVm) this.#attachFds(t, kvm, named, at, events);
    for (const name of own) this.#openRegion(t, name, at, events, findings);
    if (t.subjects.size === 0 && t.unchecked === undefined) {
      t.unchecked =
        kvm && kvm.vmStatsFds.length + kvm.vcpuStatsFds.length === 0
          ? 'it holds KVM VM fds but no KVM stats fd (QEMU 7.2 opens one only while it answers QMP query-stats, then closes it): nothing to check from fds'
          : 'none of its stats could be opened';
      events.push(event(at, t, 'unchecked', t.unchecked));
    }
    return t;
  }

  #attachFds(t: Tracked, kvm: KvmProcess, named: boolean, at: number, events: LiveEvent[]): void {
    const wanted: { fd: number; kind: 'vm-stats' | 'vcpu-stats'; vcpu?: number }[] = [
      ...kvm.vmStatsFds.map((fd) => ({ fd, kind: 'vm-stats' as const })),
      ...kvm.vcpuStatsFds.map((f) => ({ ...f, kind: 'vcpu-stats' as const })),
    ];
    const fresh = wanted.filter((w) => !t.subjects.has(`fd:${w.fd}`) && !t.refused.has(`fd:${w.fd}`));
    if (fresh.length === 0) return;
    if (!t.handle) {
      const opened = ProcessHandle.open(t.pid, t.startTime);
      if (!(opened instanceof ProcessHandle)) return; // gone: the next scan says so
      t.handle = opened;
    }
    for (const w of fresh) {
      const dup = t.handle.dup(w.fd);
      if (!dup.ok) {
        if (dup.code === 'EBADF' || dup.code === 'ESRCH') continue; // closed or exited meanwhile
        const reason = dupFailureText(dup.code);
        if (named) throw new EnvironmentError(`process ${t.pid} (${t.comm}): ${reason}`);
        t.refused.add(`fd:${w.fd}`);
        t.unchecked = reason;
        events.push(event(at, t, 'note', `stats fd ${w.fd}: ${reason}`));
        continue;
      }
      // The listing is older than the duplicate: the number may hold another file by now.
      if (!isStatsFdOf(dup.fd, w)) {
        close(dup.fd);
        continue; // the next scan lists it again
      }
      const label = w.kind === 'vm-stats' ? `vm stats fd ${w.fd}` : `vcpu ${w.vcpu ?? '?'} stats fd ${w.fd}`;
      t.subjects.set(`fd:${w.fd}`, {
        subject: new KvmStatsSubject(w.kind, label, dup.fd),
        samples: 0,
        pending: new Set(),
      });
    }
  }

  #openRegion(t: Tracked, name: string, at: number, events: LiveEvent[], findings: LiveFinding[]): void {
    const key = `shm:${name}`;
    if (t.subjects.has(key) || t.refused.has(key)) return;
    const table = parseTableName(name);
    let subject: Subject;
    try {
      subject = table ? new TableSubject(table) : new DirectorySubject(name);
    } catch (err) {
      const label = table ? `table ${name}` : `directory ${name}`;
      if (err instanceof FormatError) {
        t.refused.add(key);
        this.#record(at, t, label, err.toViolation(), findings);
        return;
      }
      if (err instanceof FileRefusedError && err.rule === 'owner-mismatch') {
        // Named as this process's, owned by someone else: a forgery, not a table of this VM.
        t.refused.add(key);
        this.#record(
          at,
          t,
          label,
          { field: 'file', rule: 'owner-mismatch', severity: 'error', message: err.detail },
          findings,
        );
        return;
      }
      if (err instanceof EnvironmentError) {
        if (errorCode((err as { cause?: unknown }).cause) === 'ENOENT') return; // removed meanwhile
        t.refused.add(key);
        events.push(event(at, t, 'note', `${label}: cannot open: ${err.message}`));
        return;
      }
      throw err;
    }
    t.subjects.set(key, { subject, samples: 0, pending: new Set() });
  }
}

/** hvkit region names under /dev/shm, by owner "pid:startTime". */
function regionsByProcess(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of listShmNames()) {
    const r = parseRegionName(name);
    if (!r || r.kind === 'other') continue;
    const key = `${r.pid}:${r.startTime}`;
    const list = out.get(key) ?? [];
    list.push(name);
    out.set(key, list);
  }
  return out;
}

function describeProcess(kvm: KvmProcess | undefined, regions: string[]): string {
  const tables = regions.filter((n) => parseTableName(n)).length;
  const parts = [
    `${kvm?.vmFds.length ?? 0} VM fd(s)`,
    `${kvm?.vcpuFds.length ?? 0} vCPU fd(s)`,
    `${(kvm?.vmStatsFds.length ?? 0) + (kvm?.vcpuStatsFds.length ?? 0)} stats fd(s)`,
    `${tables} stats table(s)`,
    `${regions.length - tables} domain directory`,
  ];
  return parts.join(', ');
}

function summarize(subjects: Map<string, SubjectEntry>): SubjectSummary[] {
  return [...subjects.values()].map(({ subject, samples }) => ({
    kind: subject.kind,
    label: subject.label,
    ...(subject instanceof KvmStatsSubject && subject.id !== undefined ? { id: subject.id } : {}),
    samples,
  }));
}

/** Whether our fd `fd` is a KVM stats fd of the kind (and vCPU, when known) the listing said. */
function isStatsFdOf(fd: number, wanted: { kind: 'vm-stats' | 'vcpu-stats'; vcpu?: number }): boolean {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw e;
  }
  const k = parseKvmFdTarget(target);
  return k?.kind === wanted.kind && (wanted.vcpu === undefined || k.vcpu === wanted.vcpu);
}

function event(at: number, t: Tracked, kind: LiveEventKind, text: string): LiveEvent {
  return { at, pid: t.pid, comm: t.comm, kind, text };
}

function release(t: Tracked): void {
  if (t.released) return;
  t.released = true;
  for (const s of t.subjects.values()) s.subject.close();
  t.handle?.close();
  t.handle = undefined;
}

/** The exit status of what a report saw: 1 errors, 2 something could not be checked, else 0. */
export function liveExitCode(report: LiveReport): 0 | 1 | 2 {
  if (report.errors > 0) return 1;
  if (report.unchecked > 0) return 2;
  return 0;
}

export interface CheckLiveOptions extends LiveCheckOptions {
  /** Samples of every subject (≥ 2: rules across time need two). Default 2. */
  samples?: number;
  /** Pause between samples, in milliseconds. */
  intervalMs?: number;
  /** Waits between samples (default: a blocking sleep of intervalMs). */
  between?: () => void;
}

/** One check of the named processes (or all): `samples` samples, then the report. */
export function checkLive(options: CheckLiveOptions = {}): { report: LiveReport; events: LiveEvent[] } {
  const samples = Math.max(2, options.samples ?? 2);
  const between = options.between ?? (() => sleepMs(options.intervalMs ?? 100));
  const checker = new LiveChecker(options);
  const events: LiveEvent[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      if (i > 0) between();
      events.push(...checker.sample().events);
    }
    return { report: checker.report(), events };
  } finally {
    checker.close();
  }
}

function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
