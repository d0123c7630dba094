import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KVM_GET_API_VERSION } from '../../src/kvm/constants.ts';
import {
  close,
  ioctl,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
  pidfdGetfd,
  pidfdOpen,
  pread,
} from '../../src/os/libc.ts';
import { errnoName, SyscallError } from '../../src/os/syscall-error.ts';

test('errno numbers get their conventional names', () => {
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(9), 'EBADF');
  assert.equal(errnoName(25), 'ENOTTY');
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoName(99999), 'errno 99999');
});

test('an ioctl on a bad fd is a SyscallError naming the call and EBADF', () => {
  assert.throws(
    () => ioctl(1_000_000, KVM_GET_API_VERSION, 0, 'KVM_GET_API_VERSION'),
    (err: unknown) =>
      err instanceof SyscallError &&
      err.call === 'ioctl' &&
      err.code === 'EBADF' &&
      err.errno === 9 &&
      /KVM_GET_API_VERSION/.test(err.message) &&
      /EBADF/.test(err.message),
  );
});

test('a KVM ioctl on a file that is not KVM fails with ENOTTY', () => {
  const fd = openSync('/dev/null', 'r');
  try {
    assert.throws(() => ioctl(fd, KVM_GET_API_VERSION), { name: 'SyscallError', code: 'ENOTTY' });
  } finally {
    closeSync(fd);
  }
});

test('close reports EBADF for an fd that is not open', () => {
  assert.throws(() => close(1_000_000), { name: 'SyscallError', call: 'close', code: 'EBADF' });
});

test('anonymous mmap gives writable memory with a real address, and munmap releases it', () => {
  const m = mmap(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  try {
    assert.equal(m.length, 8192);
    assert.equal(m.bytes.length, 8192);
    assert.ok(m.address > 0n && m.address % 4096n === 0n);
    assert.equal(m.bytes[100], 0);
    m.bytes[100] = 0xab;
    assert.equal(m.bytes[100], 0xab);
  } finally {
    munmap(m);
  }
});

test('mmap failure is a SyscallError (EINVAL for length 0)', () => {
  assert.throws(() => mmap(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1), {
    name: 'SyscallError',
    call: 'mmap',
    code: 'EINVAL',
  });
});

test('pidfd_open + pidfd_getfd duplicate an fd of a process (here our own)', (t) => {
  if (process.arch !== 'x64') {
    t.skip(`pidfd syscalls are wired for x86_64 only (this is ${process.arch})`);
    return;
  }
  const fd = openSync('/dev/null', 'r');
  let pidfd = -1;
  let dup = -1;
  try {
    pidfd = pidfdOpen(process.pid);
    dup = pidfdGetfd(pidfd, fd);
    assert.notEqual(dup, fd);
    const a = fstatSync(fd);
    const b = fstatSync(dup);
    assert.equal(b.ino, a.ino);
    assert.equal(b.rdev, a.rdev);
    assert.throws(() => pidfdGetfd(pidfd, 1_000_000), { name: 'SyscallError', call: 'pidfd_getfd', code: 'EBADF' });
  } finally {
    if (dup >= 0) close(dup);
    if (pidfd >= 0) close(pidfd);
    closeSync(fd);
  }
});

test('pidfd_open of a pid that does not exist is ESRCH', (t) => {
  if (process.arch !== 'x64') {
    t.skip(`pidfd syscalls are wired for x86_64 only (this is ${process.arch})`);
    return;
  }
  // pid_max is at most 2^22, so this pid cannot exist.
  assert.throws(() => pidfdOpen(0x7fff_fff0), { name: 'SyscallError', call: 'pidfd_open', code: 'ESRCH' });
});

test('pread reads at a position without moving the file offset, 0 at end of file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-pread-'));
  const path = join(dir, 'f');
  writeFileSync(path, Buffer.from('0123456789'));
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(4);
    assert.equal(pread(fd, buf, 3), 4);
    assert.equal(Buffer.from(buf).toString(), '3456');
    assert.equal(pread(fd, buf, 8), 2);
    assert.equal(Buffer.from(buf.subarray(0, 2)).toString(), '89');
    assert.equal(pread(fd, buf, 10), 0);
    assert.throws(() => pread(fd, buf, -1), RangeError);
    assert.throws(() => pread(1_000_000, buf, 0), { name: 'SyscallError', call: 'pread', code: 'EBADF' });
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
