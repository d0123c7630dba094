/**
 * A handle on one process through a pidfd: immune to pid reuse, it duplicates the process's fds
 * (pidfd_getfd, which needs ptrace-level access: PTRACE_MODE_ATTACH_REALCREDS) and tells when the
 * process exits.
 */
import { close, pidfdGetfd, pidfdOpen } from '../os/libc.ts';
import { processStartTime } from '../os/procfs.ts';
import { errorCode, exitedPidfds } from './sys.ts';

export type DupResult = { ok: true; fd: number } | { ok: false; code: string };

/** Why a duplication failed, in words for a VM's note. */
export function dupFailureText(code: string): string {
  switch (code) {
    case 'EPERM':
      return 'no permission to duplicate its fds (pidfd_getfd needs ptrace access: run as root or as the VMM user, and check kernel.yama.ptrace_scope)';
    case 'EBADF':
      return 'the fd was closed before it could be duplicated';
    case 'ESRCH':
      return 'the process exited';
    default:
      return `pidfd_getfd failed: ${code}`;
  }
}

export class ProcessHandle {
  #pidfd: number | undefined;

  private constructor(
    readonly pid: number,
    readonly startTime: bigint,
    pidfd: number,
  ) {
    this.#pidfd = pidfd;
  }

  /**
   * Opens a pidfd on `pid` and checks it is still the process that started at `startTime`.
   * Returns the errno name (ESRCH when it is gone or was replaced) instead of throwing.
   */
  static open(pid: number, startTime: bigint): ProcessHandle | { code: string } {
    let pidfd: number;
    try {
      pidfd = pidfdOpen(pid);
    } catch (err) {
      return { code: errorCode(err) ?? 'EIO' };
    }
    if (processStartTime(pid) !== startTime) {
      close(pidfd);
      return { code: 'ESRCH' };
    }
    return new ProcessHandle(pid, startTime, pidfd);
  }

  get pidfd(): number | undefined {
    return this.#pidfd;
  }

  get closed(): boolean {
    return this.#pidfd === undefined;
  }

  /** Duplicates the process's fd `fd` into this process (close-on-exec). */
  dup(fd: number): DupResult {
    if (this.#pidfd === undefined) return { ok: false, code: 'EBADF' };
    try {
      return { ok: true, fd: pidfdGetfd(this.#pidfd, fd) };
    } catch (err) {
      return { ok: false, code: errorCode(err) ?? 'EIO' };
    }
  }

  close(): void {
    const fd = this.#pidfd;
    this.#pidfd = undefined;
    if (fd !== undefined) close(fd);
  }
}

/** Of `handles`, those whose process has exited (one poll(2) call for all of them). */
export function exitedProcesses(handles: readonly ProcessHandle[]): Set<ProcessHandle> {
  const open = handles.filter((h) => h.pidfd !== undefined);
  const exited = exitedPidfds(open.map((h) => h.pidfd!));
  return new Set(open.filter((_, i) => exited[i]));
}
