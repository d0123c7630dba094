/**
 * The debugfs fallback for a VM whose VMM holds no KVM stats fd (older QEMU opens them only while
 * answering a query): /sys/kernel/debug/kvm/<PID>-<VM FD>/ has one text file per stat.
 *
 * What the kernel serves there, and so what this reader can give:
 * - the VM's stats and the vCPU stats SUMMED over all vCPUs, in the VM directory; the vcpuN/
 *   directories hold no stats (only pid, guest_mode, tsc-offset), so there is no per-vCPU data;
 * - one u64 per file: a histogram file shows its first bucket only, so histograms are skipped;
 * - under kernel lockdown, files that are writable (cumulative and peak stats, mode 0644) refuse
 *   open with EPERM; only instant stats (0444) stay readable. Such files are listed as unreadable.
 *
 * The files are not seekable (pread fails with ESPIPE) and format their value at the first read
 * after open, so every sample opens, reads and closes each file: three system calls per stat.
 * Nothing stays open between samples (an open file would hold a reference on the VM).
 */

import { closeSync, constants, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { isErrno } from '../errors.ts';
import { errorCode } from './sys.ts';

export const DEBUGFS_KVM = '/sys/kernel/debug/kvm';

export interface DebugfsStat {
  name: string;
  /** From the file mode: 0444 files are instant values, writable ones cumulative or peak. */
  writable: boolean;
}

export interface DebugfsVmOptions {
  root?: string;
  /** Names known to be histograms (from any KVM stats layout seen); `*_hist` files are skipped anyway. */
  histograms?: ReadonlySet<string>;
}

/** Why debugfs cannot serve KVM stats at `root`, or undefined when the directory is readable. */
export function debugfsUnavailableReason(root = DEBUGFS_KVM): string | undefined {
  try {
    readdirSync(root);
    return undefined;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return `debugfs is not mounted (no ${root})`;
    if (code === 'EACCES') return `${root} is not readable (debugfs is root-only)`;
    return `${root}: ${code ?? String(err)}`;
  }
}

const DIGITS = /^\s*(\d{1,20})\s*$/;

export class DebugfsVm {
  readonly stats: DebugfsStat[] = [];
  /** Files present but not readable, with the errno (EPERM under lockdown) or why they were skipped. */
  readonly unreadable: { name: string; code: string }[] = [];
  /** vCPU indexes that have a vcpuN/ directory. */
  readonly vcpuDirs: number[] = [];
  readonly #buf = new Uint8Array(32);
  readonly #decoder = new TextDecoder();

  private constructor(readonly dir: string) {}

  /**
   * Opens every stat file of VM `vmFd` of process `pid`. Returns a reason string when the
   * directory is missing or unreadable.
   */
  static open(pid: number, vmFd: number, options: DebugfsVmOptions = {}): DebugfsVm | string {
    const root = options.root ?? DEBUGFS_KVM;
    const unavailable = debugfsUnavailableReason(root);
    if (unavailable) return unavailable;
    const dir = `${root}/${pid}-${vmFd}`;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      return `${dir}: ${errorCode(err) ?? String(err)}`;
    }
    const vm = new DebugfsVm(dir);
    for (const name of entries.sort()) {
      const vcpu = /^vcpu(\d+)$/.exec(name);
      if (vcpu) {
        vm.vcpuDirs.push(Number(vcpu[1]));
        continue;
      }
      if (name.endsWith('_hist') || options.histograms?.has(name)) {
        vm.unreadable.push({ name, code: 'histogram (debugfs shows only its first bucket)' });
        continue;
      }
      try {
        const st = statSync(`${dir}/${name}`);
        if (!st.isFile()) continue;
        closeSync(openSync(`${dir}/${name}`, constants.O_RDONLY)); // EPERM under lockdown: say so now
        vm.stats.push({ name, writable: (st.mode & 0o222) !== 0 });
      } catch (err) {
        vm.unreadable.push({ name, code: errorCode(err) ?? String(err) });
      }
    }
    vm.vcpuDirs.sort((a, b) => a - b);
    return vm;
  }

  /**
   * Reads every stat; `into[i]` is the value of `stats[i]`, undefined when the read failed
   * (the VM is being destroyed). Returns `into`.
   */
  read(into: (bigint | undefined)[] = []): (bigint | undefined)[] {
    into.length = this.stats.length;
    for (let i = 0; i < this.stats.length; i++) into[i] = this.#readOne(`${this.dir}/${this.stats[i]!.name}`);
    return into;
  }

  #readOne(path: string): bigint | undefined {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY);
    } catch (e) {
      // The VM went away (ENOENT), or a locked-down kernel refuses the counters (EPERM/EACCES).
      if (isErrno(e, 'ENOENT', 'EACCES', 'EPERM')) return undefined;
      throw e;
    }
    try {
      const n = readSync(fd, this.#buf, 0, this.#buf.length, null);
      const m = DIGITS.exec(this.#decoder.decode(this.#buf.subarray(0, n)));
      return m ? BigInt(m[1]!) : undefined;
    } catch (e) {
      // Reading a counter of a VM being destroyed fails with ENOENT/ENODEV; lockdown with EPERM.
      if (isErrno(e, 'ENOENT', 'ENODEV', 'EACCES', 'EPERM', 'EINVAL')) return undefined;
      throw e;
    } finally {
      closeSync(fd);
    }
  }

  /** Nothing is held open between samples; kept so every source has the same life cycle. */
  close(): void {}
}
