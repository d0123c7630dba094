/**
 * The system calls attaching needs beyond src/os/libc.ts, bound through koffi with FIXED
 * prototypes (same rule as libc.ts: variadic `syscall` called through a fixed prototype is only
 * sound on x86_64 SysV, the one architecture these numbers are wired for).
 */

import koffi from 'koffi';
import { EnvironmentError } from '../errors.ts';
import { SyscallError } from '../os/syscall-error.ts';

/** Syscall numbers from the x86_64 table (asm/unistd_64.h). */
const SYS_kcmp = 312;
/** kcmp type: are two fds (of two processes) the same open file? */
const KCMP_FILE = 0;

const POLLIN = 0x1;
const EINTR = 4;
const POLL_FD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

interface AttachBindings {
  poll: (fds: Uint8Array, nfds: number, timeout: number) => number;
  kcmp: (nr: number, pid1: number, pid2: number, type: number, idx1: number, idx2: number) => number | bigint;
}

let bindings: AttachBindings | undefined;

function sys(): AttachBindings {
  if (bindings) return bindings;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new EnvironmentError(`attaching needs Linux on x86_64 (this is ${process.platform}/${process.arch})`);
  }
  const lib = koffi.load('libc.so.6');
  bindings = {
    poll: lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
    kcmp: lib.func('long syscall(long nr, int pid1, int pid2, int type, unsigned long idx1, unsigned long idx2)'),
  };
  return bindings;
}

/**
 * Which of `pidfds` are readable right now, without waiting. A pidfd becomes readable when its
 * process exits (even before it is reaped), so this checks the liveness of every attached
 * process in one system call, immune to pid reuse.
 */
export function exitedPidfds(pidfds: readonly number[]): boolean[] {
  if (pidfds.length === 0) return [];
  const buf = new Uint8Array(pidfds.length * POLL_FD_SIZE);
  const view = new DataView(buf.buffer);
  pidfds.forEach((fd, i) => {
    view.setInt32(i * POLL_FD_SIZE, fd, true);
    view.setInt16(i * POLL_FD_SIZE + 4, POLLIN, true);
  });
  for (;;) {
    const r = sys().poll(buf, pidfds.length, 0);
    if (r >= 0) break;
    if (koffi.errno() !== EINTR) throw new SyscallError('poll', koffi.errno(), `${pidfds.length} pidfds`);
  }
  // Any event (POLLIN, POLLHUP, POLLERR, POLLNVAL) means the process is gone or the pidfd is unusable.
  return pidfds.map((_, i) => view.getInt16(i * POLL_FD_SIZE + 6, true) !== 0);
}

/**
 * kcmp(KCMP_FILE): true when fd `fd1` of `pid1` and fd `fd2` of `pid2` are the same open file.
 * Throws SyscallError (EBADF when either fd is closed, ESRCH when a process is gone, EPERM without
 * ptrace access, ENOSYS without CONFIG_KCMP).
 */
export function sameFile(pid1: number, fd1: number, pid2: number, fd2: number): boolean {
  const r = Number(sys().kcmp(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2));
  if (r < 0) throw new SyscallError('kcmp', koffi.errno(), `pid ${pid1} fd ${fd1} vs pid ${pid2} fd ${fd2}`);
  return r === 0;
}

/** The errno name of a failed call (SyscallError or a Node fs error), or undefined for other errors. */
// SyscallError carries its errno name in `code`, so the generic reader covers it.
export { errorCode } from '../errors.ts';
