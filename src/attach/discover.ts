/**
 * Discovery: which processes hold KVM file descriptors, and which ones. One pass over /proc/*\/fd;
 * processes that vanish mid-scan or may not be inspected (EACCES) are reported, never fatal.
 */
import { listPids, PROC, type ProcessIdentity, readFdLinks, readProcessIdentity } from '../os/procfs.ts';

export type KvmFdKind = 'vm' | 'vcpu' | 'vm-stats' | 'vcpu-stats';

export interface KvmFd {
  fd: number;
  kind: KvmFdKind;
  /** vCPU index for 'vcpu' and 'vcpu-stats' (the N of anon_inode:kvm-vcpu:N). */
  vcpu?: number;
}

const KVM_TARGET = /^anon_inode:kvm-(vm|vcpu|vm-stats|vcpu-stats)(?::(\d+))?$/;

/** Classifies a /proc/PID/fd link target; undefined for anything that is not a KVM VM object. */
export function parseKvmFdTarget(target: string): Omit<KvmFd, 'fd'> | undefined {
  const m = KVM_TARGET.exec(target);
  if (!m) return undefined;
  const kind = m[1] as KvmFdKind;
  const perVcpu = kind === 'vcpu' || kind === 'vcpu-stats';
  // kvm-vcpu:N always carries its index; kvm-vcpu-stats carries it on kernels that name it.
  if (kind === 'vcpu' && m[2] === undefined) return undefined;
  if (!perVcpu && m[2] !== undefined) return undefined;
  return m[2] === undefined ? { kind } : { kind, vcpu: Number(m[2]) };
}

const isKvmTarget = (target: string) => target.startsWith('anon_inode:kvm-');

/** A process holding at least one KVM VM object fd. */
export interface KvmProcess extends ProcessIdentity {
  vmFds: number[];
  vcpuFds: { fd: number; vcpu: number }[];
  vmStatsFds: number[];
  /** vcpu is undefined when the kernel names the inode without the index. */
  vcpuStatsFds: { fd: number; vcpu?: number }[];
}

export interface SkippedProcess {
  pid: number;
  /** 'EACCES' (not ours to inspect: run as root or as the VMM's user), 'vanished', … */
  code: string;
  comm?: string;
}

export interface DiscoveryResult {
  processes: KvmProcess[];
  /** Processes whose fds could not be listed; a vanished one is left out unless it vanished mid-listing. */
  skipped: SkippedProcess[];
}

export interface DiscoverOptions {
  proc?: string;
  /** Only these pids (e.g. processes already known); default: every process. */
  pids?: readonly number[];
  /** Leave this process out (a tool's own duplicated stats fds would look like a VMM). Default: process.pid. */
  excludePid?: number | null;
  /** fds to leave out, by pid (a tool's own duplicates of other processes' stats fds). */
  ignoreFds?: ReadonlyMap<number, ReadonlySet<number>>;
}

/** Groups a process's KVM fds by kind; undefined when it holds none. */
export function classifyKvmFds(
  identity: ProcessIdentity,
  links: { fd: number; target: string }[],
): KvmProcess | undefined {
  const p: KvmProcess = { ...identity, vmFds: [], vcpuFds: [], vmStatsFds: [], vcpuStatsFds: [] };
  for (const { fd, target } of links) {
    const k = parseKvmFdTarget(target);
    if (!k) continue;
    if (k.kind === 'vm') p.vmFds.push(fd);
    else if (k.kind === 'vm-stats') p.vmStatsFds.push(fd);
    else if (k.kind === 'vcpu') p.vcpuFds.push({ fd, vcpu: k.vcpu! });
    else p.vcpuStatsFds.push(k.vcpu === undefined ? { fd } : { fd, vcpu: k.vcpu });
  }
  const any = p.vmFds.length + p.vcpuFds.length + p.vmStatsFds.length + p.vcpuStatsFds.length;
  return any === 0 ? undefined : p;
}

/** Scans /proc for processes holding KVM VM objects. */
export function discoverKvmProcesses(options: DiscoverOptions = {}): DiscoveryResult {
  const proc = options.proc ?? PROC;
  const exclude = options.excludePid === undefined ? process.pid : options.excludePid;
  const result: DiscoveryResult = { processes: [], skipped: [] };
  for (const pid of options.pids ?? listPids(proc)) {
    if (pid === exclude) continue;
    const identity = readProcessIdentity(pid, proc);
    if (!identity) continue; // gone before we looked
    const listing = readFdLinks(pid, isKvmTarget, proc);
    if (!listing.ok) {
      // ENOENT: it exited between stat and fd listing.
      const code = listing.code === 'ENOENT' ? 'vanished' : listing.code;
      result.skipped.push({ pid, code, comm: identity.comm });
      continue;
    }
    const ignored = options.ignoreFds?.get(pid);
    const links = ignored ? listing.fds.filter((l) => !ignored.has(l.fd)) : listing.fds;
    const p = classifyKvmFds(identity, links);
    if (!p) continue;
    // The fd list belongs to the identity read before it only if the process was not replaced meanwhile.
    const after = readProcessIdentity(pid, proc);
    if (after?.startTime !== identity.startTime) {
      result.skipped.push({ pid, code: 'vanished', comm: identity.comm });
      continue;
    }
    result.processes.push(p);
  }
  return result;
}
