/**
 * The few libc entry points hvkit needs to drive KVM, bound through koffi.
 *
 * Every function is declared with a FIXED prototype. `ioctl` and `syscall` are variadic in C;
 * calling a variadic function through a fixed prototype is only safe where the calling convention
 * passes the variadic integer/pointer arguments exactly like fixed ones — true on x86_64 SysV
 * (integer registers in the same order; glibc's `ioctl`/`syscall` never read `%al`), which is the
 * only architecture this module is written and tested for. Each variant gets its own prototype
 * (integer argument vs pointer argument) so koffi never has to guess a variadic type.
 */

import koffi from 'koffi';
import { EnvironmentError } from '../errors.ts';
import { SyscallError } from './syscall-error.ts';

/** Memory protection and mapping flags for mmap (Linux, all architectures we support). */
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;

/** pidfd syscalls; numbers from the x86_64 syscall table (asm/unistd_64.h). */
const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;

const EINTR = 4;

/** mmap returns (void *)-1 on failure. */
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

interface LibcBindings {
  ioctlInt: (fd: number, request: number, arg: number | bigint) => number;
  ioctlPtr: (fd: number, request: number, arg: Uint8Array) => number;
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => unknown;
  munmap: (addr: bigint, length: number) => number;
  close: (fd: number) => number;
  pread: (fd: number, buf: Uint8Array, count: number, offset: number) => number | bigint;
  syscallPidfdOpen: (nr: number, pid: number, flags: number) => number | bigint;
  syscallPidfdGetfd: (nr: number, pidfd: number, targetFd: number, flags: number) => number | bigint;
  gettid: () => number;
  getpid: () => number;
  tgkill: (tgid: number, tid: number, sig: number) => number;
  sigaction: (sig: number, act: Uint8Array | null, oldact: Uint8Array | null) => number;
  dlsym: (handle: null, name: string) => unknown;
  sigrtmin: () => number;
  sigrtmax: () => number;
}

let bindings: LibcBindings | undefined;

function libc(): LibcBindings {
  if (bindings) return bindings;
  if (process.platform !== 'linux') throw new EnvironmentError(`KVM bindings need Linux (this is ${process.platform})`);
  const lib = koffi.load('libc.so.6');
  bindings = {
    ioctlInt: lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    ioctlPtr: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: lib.func('int munmap(uintptr_t addr, size_t length)'),
    close: lib.func('int close(int fd)'),
    pread: lib.func('long pread(int fd, _Out_ uint8_t *buf, size_t count, int64_t offset)'),
    syscallPidfdOpen: lib.func('long syscall(long nr, int pid, unsigned int flags)'),
    syscallPidfdGetfd: lib.func('long syscall(long nr, int pidfd, int targetfd, unsigned int flags)'),
    gettid: lib.func('int gettid(void)'),
    getpid: lib.func('int getpid(void)'),
    tgkill: lib.func('int tgkill(int tgid, int tid, int sig)'),
    sigaction: lib.func('int sigaction(int sig, const uint8_t *act, _Out_ uint8_t *oldact)'),
    dlsym: lib.func('void *dlsym(void *handle, const char *name)'),
    sigrtmin: lib.func('int __libc_current_sigrtmin(void)'),
    sigrtmax: lib.func('int __libc_current_sigrtmax(void)'),
  };
  return bindings;
}

/** Reads errno right after a failed call (koffi preserves it across the FFI boundary). */
function fail(call: string, detail?: string): never {
  throw new SyscallError(call, koffi.errno(), detail);
}

/** ioctl with an integer argument (or none: pass 0). Returns the non-negative result. */
export function ioctl(fd: number, request: number, arg: number | bigint = 0, what?: string): number {
  const r = libc().ioctlInt(fd, request, arg);
  if (r < 0) fail('ioctl', what ?? `request 0x${request.toString(16)}`);
  return r;
}

/** ioctl whose argument points at `buf` (the kernel reads and/or writes the struct in place). */
export function ioctlBuf(fd: number, request: number, buf: Uint8Array, what?: string): number {
  const r = libc().ioctlPtr(fd, request, buf);
  if (r < 0) fail('ioctl', what ?? `request 0x${request.toString(16)}`);
  return r;
}

/** A live mapping: its address (for the kernel) and a view (for us). Unmap exactly once. */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  readonly bytes: Uint8Array;
}

/** Maps `length` bytes; fd -1 with MAP_ANONYMOUS for plain memory. */
export function mmap(length: number, prot: number, flags: number, fd: number, offset = 0): Mapping {
  const ptr = libc().mmap(null, length, prot, flags, fd, offset);
  const address = ptr === null ? 0n : koffi.address(ptr);
  if (address === MAP_FAILED || address === 0n) fail('mmap', `length ${length}`);
  return { address, length, bytes: new Uint8Array(koffi.view(ptr, length)) };
}

/**
 * A view of `length` bytes at `address`, inside a mapping someone else made and will unmap (for
 * instance another thread's). Valid only while that mapping lives; nothing here unmaps it.
 */
export function viewOf(address: bigint, length: number): Uint8Array {
  return new Uint8Array(koffi.view(address, length));
}

export function munmap(mapping: Mapping): void {
  if (libc().munmap(mapping.address, mapping.length) < 0) fail('munmap');
}

export function close(fd: number): void {
  if (libc().close(fd) < 0) fail('close', `fd ${fd}`);
}

/**
 * pread(2) straight into `buf`: one FFI call, cheaper than fs.readSync's extra layers, which
 * matters when sampling stats fds at high rates. Retries EINTR; returns the byte count (0 at EOF).
 */
export function pread(fd: number, buf: Uint8Array, position: number): number {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`pread: bad position ${position}`);
  for (;;) {
    const n = Number(libc().pread(fd, buf, buf.length, position));
    if (n >= 0) return n;
    if (koffi.errno() !== EINTR) fail('pread', `fd ${fd}`);
  }
}

function requireX64(call: string): void {
  if (process.arch !== 'x64') {
    throw new EnvironmentError(`${call}: syscall numbers are only wired for x86_64 (this is ${process.arch})`);
  }
}

/** pidfd_open(2): a pidfd referring to `pid`. */
export function pidfdOpen(pid: number, flags = 0): number {
  requireX64('pidfd_open');
  const r = Number(libc().syscallPidfdOpen(SYS_pidfd_open, pid, flags));
  if (r < 0) fail('pidfd_open', `pid ${pid}`);
  return r;
}

/** pidfd_getfd(2): duplicates `targetFd` of the process behind `pidfd` into this process. */
export function pidfdGetfd(pidfd: number, targetFd: number, flags = 0): number {
  requireX64('pidfd_getfd');
  const r = Number(libc().syscallPidfdGetfd(SYS_pidfd_getfd, pidfd, targetFd, flags));
  if (r < 0) fail('pidfd_getfd', `fd ${targetFd}`);
  return r;
}

/** gettid(2): the kernel thread id of the calling thread (differs per worker_thread). */
export function gettid(): number {
  return libc().gettid();
}

export function getpid(): number {
  return libc().getpid();
}

/** tgkill(2): sends `sig` to thread `tid` of thread group `tgid`. Throws SyscallError (ESRCH once the thread is gone). */
export function tgkill(tgid: number, tid: number, sig: number): void {
  if (libc().tgkill(tgid, tid, sig) < 0) fail('tgkill', `tid ${tid} signal ${sig}`);
}

/** The real-time signal range glibc leaves to applications (it reserves the kernel's first few). */
export function realtimeSignalRange(): { min: number; max: number } {
  return { min: libc().sigrtmin(), max: libc().sigrtmax() };
}

/** Address of a symbol in the process (dlsym with RTLD_DEFAULT); throws when absent. */
export function symbolAddress(name: string): bigint {
  const ptr = libc().dlsym(null, name);
  const address = ptr === null ? 0n : koffi.address(ptr);
  if (address === 0n) throw new EnvironmentError(`dlsym: no symbol ${name}`);
  return address;
}

/**
 * sigaction(2) through glibc with a raw struct sigaction (x86_64 glibc layout, 152 bytes:
 * handler u64, sa_mask 128 bytes, sa_flags i32, padding, sa_restorer u64). `act` null = query only.
 */
export function sigactionRaw(sig: number, act: Uint8Array | null, oldact: Uint8Array | null): void {
  if (libc().sigaction(sig, act, oldact) < 0) fail('sigaction', `signal ${sig}`);
}
