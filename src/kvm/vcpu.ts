/**
 * One vCPU: its fd, its shared kvm_run page, register access and its binary stats fd.
 */

import { ClosedError } from '../errors.ts';
import {
  close,
  ioctl,
  ioctlBuf,
  MAP_SHARED,
  type Mapping,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
  viewOf,
} from '../os/libc.ts';
import { SyscallError } from '../os/syscall-error.ts';
import { releaseAll } from './cleanup.ts';
import { KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_STATS_FD, KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS } from './constants.ts';
import { decodeRegs, encodeRegs, KVM_REGS_SIZE, KVM_SREGS_SIZE, type Regs } from './regs.ts';

/** Where a vCPU's kvm_run area is mapped in this process (plain data: it crosses to worker threads). */
export interface RunArea {
  address: bigint;
  length: number;
}

export class Vcpu {
  private runMapping: Mapping | undefined;
  private statsFdValue: number | undefined;
  private closed = false;

  private constructor(
    readonly id: number,
    readonly fd: number,
    runMapping: Mapping,
    /** Owns the fd and the kvm_run mapping (adopt), or only looks through another handle's (borrow). */
    private readonly owner = true,
  ) {
    this.runMapping = runMapping;
  }

  /** Wraps an fd returned by KVM_CREATE_VCPU and maps its kvm_run area (`runSize` from KVM_GET_VCPU_MMAP_SIZE). */
  static adopt(id: number, fd: number, runSize: number): Vcpu {
    try {
      return new Vcpu(id, fd, mmap(runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /**
   * A second handle on a vCPU another handle owns (typically: the VMM thread running a vCPU the
   * host thread created; fds and mappings are process-wide), working through the owner's fd and
   * kvm_run mapping (`run`: the owner's runArea). It holds no mapping of its own on purpose: a
   * thread ended without running its cleanup (Worker.terminate skips finally blocks) would leave
   * such a mapping behind, and a mapped kvm_run keeps the vCPU, and with it the whole VM, alive in
   * the kernel until the process exits. close() closes only a stats fd this handle opened; the
   * owner must outlive the borrower (the VMM releases the VM after its workers have exited).
   */
  static borrow(id: number, fd: number, run: RunArea): Vcpu {
    return new Vcpu(id, fd, { ...run, bytes: viewOf(run.address, run.length) }, false);
  }

  /** Where the kvm_run area is mapped, for a borrower on another thread (valid until close()). */
  get runArea(): RunArea {
    if (!this.runMapping) throw new ClosedError(`vcpu ${this.id}`);
    return { address: this.runMapping.address, length: this.runMapping.length };
  }

  /** The kvm_run area shared with the kernel (valid until close()). */
  get run(): Uint8Array {
    if (!this.runMapping) throw new ClosedError(`vcpu ${this.id}`);
    return this.runMapping.bytes;
  }

  getRegs(): Regs {
    const buf = new Uint8Array(KVM_REGS_SIZE);
    ioctlBuf(this.fd, KVM_GET_REGS, buf, 'KVM_GET_REGS');
    return decodeRegs(buf);
  }

  setRegs(regs: Partial<Regs>): void {
    ioctlBuf(this.fd, KVM_SET_REGS, encodeRegs(regs), 'KVM_SET_REGS');
  }

  /** Raw struct kvm_sregs; edit with the helpers in regs.ts and pass back to setSregs. */
  getSregs(): Uint8Array {
    const buf = new Uint8Array(KVM_SREGS_SIZE);
    ioctlBuf(this.fd, KVM_GET_SREGS, buf, 'KVM_GET_SREGS');
    return buf;
  }

  setSregs(sregs: Uint8Array): void {
    if (sregs.length !== KVM_SREGS_SIZE) throw new RangeError(`kvm_sregs is ${KVM_SREGS_SIZE} bytes`);
    ioctlBuf(this.fd, KVM_SET_SREGS, sregs, 'KVM_SET_SREGS');
  }

  /**
   * Enters the guest once and returns when KVM hands an exit to userspace. Returns false when the
   * call was interrupted by a signal before an exit (EINTR); the caller simply runs again.
   */
  enter(): boolean {
    try {
      ioctl(this.fd, KVM_RUN, 0, 'KVM_RUN');
      return true;
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EINTR') return false;
      throw err;
    }
  }

  /** This vCPU's binary stats fd, opened on first use and owned by the vCPU (closed by close()). */
  get statsFd(): number {
    if (this.closed) throw new ClosedError(`vcpu ${this.id}`);
    this.statsFdValue ??= ioctl(this.fd, KVM_GET_STATS_FD, 0, 'KVM_GET_STATS_FD (vcpu)');
    return this.statsFdValue;
  }

  /** Releases the stats fd and, when owned, the kvm_run mapping and the vCPU fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const statsFd = this.statsFdValue;
    const runMapping = this.runMapping;
    this.statsFdValue = undefined;
    this.runMapping = undefined;
    releaseAll([
      () => statsFd !== undefined && close(statsFd),
      () => this.owner && runMapping && munmap(runMapping),
      () => this.owner && close(this.fd),
    ]);
  }
}
