/**
 * Kicking a vCPU thread out of KVM_RUN.
 *
 * A guest in a pure compute loop never exits on its own, so pause/stop must force an exit. The
 * controller stores its request where the vCPU thread will look (a control word), sets
 * kvm_run->immediate_exit (covers the window between the thread's last look and its next
 * KVM_RUN: KVM then returns EINTR at once) and sends the thread a real-time signal with tgkill
 * (covers a thread already inside KVM_RUN: a pending signal makes KVM_RUN return EINTR).
 *
 * The signal needs a handler — an ignored signal is discarded and would not interrupt KVM_RUN, and
 * the default action of a real-time signal kills the process. The handler must be native (a
 * JavaScript callback cannot run in signal context), async-signal-safe and harmless: glibc's
 * getppid, which ignores its argument and only makes a system call. SA_RESTART keeps the thread's
 * other system calls (futex waits of Atomics.wait, reads) transparent to the kick; KVM_RUN is
 * never restarted (it returns EINTR, which is what we want).
 *
 * The signal: glibc reserves the kernel's first real-time signals for itself and SIGRTMIN..+1 are
 * commonly claimed by libraries; SIGUSR1 belongs to Node's inspector. hvkit takes SIGRTMIN + 6
 * (as glibc reports SIGRTMIN), and refuses to take it over if someone else installed a handler.
 */
import { EnvironmentError } from '../errors.ts';
import { getpid, gettid, realtimeSignalRange, sigactionRaw, symbolAddress, tgkill } from '../os/libc.ts';

const SIGACTION_SIZE = 152;
const SA_FLAGS_OFFSET = 136;
const SA_RESTART = 0x1000_0000;
const KICK_OFFSET_FROM_RTMIN = 6;

let installed: number | undefined;

/** The signal hvkit uses for kicks (SIGRTMIN + 6). */
export function kickSignal(): number {
  const { min, max } = realtimeSignalRange();
  const sig = min + KICK_OFFSET_FROM_RTMIN;
  if (sig > max)
    throw new EnvironmentError(`no real-time signal SIGRTMIN+${KICK_OFFSET_FROM_RTMIN} (range ${min}..${max})`);
  return sig;
}

/**
 * Installs the process-wide no-op handler for the kick signal (idempotent; safe from any
 * thread). Returns the signal number.
 */
export function installKickHandler(): number {
  if (installed !== undefined) return installed;
  const sig = kickSignal();
  const handler = symbolAddress('getppid');
  const old = new Uint8Array(SIGACTION_SIZE);
  sigactionRaw(sig, null, old);
  const oldHandler = new DataView(old.buffer).getBigUint64(0, true);
  // SIG_DFL (0), or our own handler installed by another thread of this process.
  if (oldHandler !== 0n && oldHandler !== handler) {
    throw new EnvironmentError(
      `signal ${sig} already has a handler (0x${oldHandler.toString(16)}); hvkit will not take it over`,
    );
  }
  const act = new Uint8Array(SIGACTION_SIZE);
  const view = new DataView(act.buffer);
  view.setBigUint64(0, handler, true); // sa_mask stays empty
  view.setInt32(SA_FLAGS_OFFSET, SA_RESTART, true);
  sigactionRaw(sig, act, null);
  installed = sig;
  return sig;
}

/** The calling thread's kernel thread id (what kickThread needs). */
export function currentThreadId(): number {
  return gettid();
}

/** Sends the kick signal to thread `tid` of this process; false when that thread no longer exists. */
export function kickThread(tid: number): boolean {
  try {
    tgkill(getpid(), tid, installKickHandler());
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ESRCH') return false;
    throw err;
  }
}
