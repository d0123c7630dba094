/**
 * A CpuCore over a real KVM vCPU, used in the vCPU's worker thread: the vCPU fd and its kvm_run
 * mapping belong to the host thread's Vm; this thread borrows both (Vcpu.borrow), so a worker
 * ended by terminate() leaves nothing of the VM behind.
 */

import type { CpuState } from '../formats/stream/image.ts';
import {
  exitReasonName,
  KVM_EXIT,
  KVM_GET_REGS,
  KVM_RUN_EXIT_REASON,
  KVM_RUN_FAIL_ENTRY_REASON,
  KVM_RUN_IMMEDIATE_EXIT,
  KVM_RUN_INTERNAL_SUBERROR,
  KVM_RUN_UNION,
  KVM_SET_REGS,
} from '../kvm/constants.ts';
import { KvmError } from '../kvm/errors.ts';
import { describeRegisters, encodeRegs, isInitState, KVM_REGS_SIZE } from '../kvm/regs.ts';
import { type RunArea, Vcpu } from '../kvm/vcpu.ts';
import { ioctlBuf } from '../os/libc.ts';
import { type CpuCore, EXIT, type ExitKind, type IoExit } from './cpu-core.ts';

const IO_DIRECTION = KVM_RUN_UNION;
const IO_SIZE = KVM_RUN_UNION + 1;
const IO_PORT = KVM_RUN_UNION + 2;
const IO_COUNT = KVM_RUN_UNION + 4;
const IO_DATA_OFFSET = KVM_RUN_UNION + 8;
/** kvm_run.mmio: phys_addr u64, data[8], len u32, is_write u8. */
const MMIO_LEN = KVM_RUN_UNION + 16;
const MMIO_IS_WRITE = KVM_RUN_UNION + 20;

export class KvmCore implements CpuCore {
  readonly io: IoExit = { direction: 0, port: 0, size: 0, count: 0 };
  readonly #vcpu: Vcpu;
  readonly #view: DataView;
  readonly #run: Uint8Array;
  #reason = 0;
  #dataOffset = 0;
  /** struct kvm_regs, read and written in place for hypercalls (rax, rbx, rcx, rdx, rsi, rdi at 0..40). */
  readonly #regs = new Uint8Array(KVM_REGS_SIZE);
  readonly #regsView = new DataView(this.#regs.buffer);

  /** An I/O or MMIO exit was taken and KVM has not completed it yet (it does on the next KVM_RUN). */
  #unsettled = false;

  constructor(id: number, fd: number, run: RunArea) {
    this.#vcpu = Vcpu.borrow(id, fd, run);
    this.#run = this.#vcpu.run;
    this.#view = new DataView(this.#run.buffer, this.#run.byteOffset, this.#run.byteLength);
  }

  run(): ExitKind {
    if (!this.#vcpu.enter()) {
      // EINTR: a kick. Clear immediate_exit before the loop looks at its control word again,
      // with a sequentially consistent store, so a kick that lands after this store is seen.
      Atomics.store(this.#run, KVM_RUN_IMMEDIATE_EXIT, 0);
      return EXIT.INTERRUPTED;
    }
    const reason = this.#view.getUint32(KVM_RUN_EXIT_REASON, true);
    this.#reason = reason;
    this.#unsettled = reason === KVM_EXIT.IO || reason === KVM_EXIT.MMIO;
    if (reason === KVM_EXIT.IO) return this.#decodeIo();
    if (reason === KVM_EXIT.HLT) return EXIT.HLT;
    if (reason === KVM_EXIT.SHUTDOWN) return EXIT.SHUTDOWN;
    if (reason === KVM_EXIT.MMIO) return EXIT.MMIO;
    return EXIT.ERROR;
  }

  #decodeIo(): ExitKind {
    const v = this.#view;
    const io = this.io;
    io.direction = v.getUint8(IO_DIRECTION);
    io.size = v.getUint8(IO_SIZE);
    io.port = v.getUint16(IO_PORT, true);
    io.count = v.getUint32(IO_COUNT, true);
    this.#dataOffset = Number(v.getBigUint64(IO_DATA_OFFSET, true));
    const size = io.size;
    if (
      (size !== 1 && size !== 2 && size !== 4) ||
      io.direction > 1 ||
      io.count === 0 ||
      this.#dataOffset + size * io.count > this.#run.length
    ) {
      throw new KvmError(
        `malformed KVM_EXIT_IO: dir ${io.direction} size ${size} count ${io.count} data_offset ${this.#dataOffset}`,
      );
    }
    return EXIT.IO;
  }

  ioValue(i: number): number {
    const at = this.#dataOffset + i * this.io.size;
    const size = this.io.size;
    if (size === 1) return this.#view.getUint8(at);
    if (size === 2) return this.#view.getUint16(at, true);
    return this.#view.getUint32(at, true);
  }

  setIoValue(i: number, value: number): void {
    const at = this.#dataOffset + i * this.io.size;
    const size = this.io.size;
    if (size === 1) this.#view.setUint8(at, value & 0xff);
    else if (size === 2) this.#view.setUint16(at, value & 0xffff, true);
    else this.#view.setUint32(at, value >>> 0, true);
  }

  readCallRegisters(regs: Uint32Array): void {
    ioctlBuf(this.#vcpu.fd, KVM_GET_REGS, this.#regs, 'KVM_GET_REGS');
    for (let i = 0; i < 6; i++) regs[i] = this.#regsView.getUint32(8 * i, true);
  }

  /**
   * KVM completes the pending OUT (it advances RIP past it) on the next KVM_RUN; registers set
   * now are what the guest sees after the instruction.
   */
  completeCall(regs: Uint32Array): void {
    for (let i = 0; i < 4; i++) {
      this.#regsView.setUint32(8 * i, regs[i]!, true);
      this.#regsView.setUint32(8 * i + 4, 0, true);
    }
    ioctlBuf(this.#vcpu.fd, KVM_SET_REGS, this.#regs, 'KVM_SET_REGS');
  }

  /**
   * KVM completes an I/O exit (stores an IN's value, advances RIP past the instruction) only on
   * the next KVM_RUN, and that pending work is not in any state userspace can read. Re-entering
   * with immediate_exit set completes it and returns EINTR without running a guest instruction.
   */
  settle(): void {
    if (!this.#unsettled) return;
    Atomics.store(this.#run, KVM_RUN_IMMEDIATE_EXIT, 1);
    const ranGuest = this.#vcpu.enter();
    Atomics.store(this.#run, KVM_RUN_IMMEDIATE_EXIT, 0);
    this.#unsettled = false;
    if (ranGuest) throw new KvmError('KVM_RUN with immediate_exit took a guest exit while settling a vCPU');
  }

  /** struct kvm_regs as 18 u64 and struct kvm_sregs as bytes (call settle() first). */
  capture(): CpuState {
    const raw = encodeRegs(this.#vcpu.getRegs());
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const regs = Array.from({ length: raw.length / 8 }, (_, i) => view.getBigUint64(i * 8, true));
    return { kind: 'kvm', regs, sregs: this.#vcpu.getSregs() };
  }

  describeExit(kind: ExitKind): string {
    const v = this.#view;
    const name = `KVM_EXIT_${exitReasonName(this.#reason)}`;
    if (kind === EXIT.SHUTDOWN) return `guest shut down (triple fault): ${name}`;
    if (kind === EXIT.MMIO) {
      const gpa = v.getBigUint64(KVM_RUN_UNION, true);
      const write = v.getUint8(MMIO_IS_WRITE) !== 0;
      return `${name}: ${write ? 'write' : 'read'} of ${v.getUint32(MMIO_LEN, true)} bytes at guest physical 0x${gpa.toString(16)}, which no memory or device backs`;
    }
    if (this.#reason === KVM_EXIT.INTERNAL_ERROR) {
      return `${name} (suberror ${v.getUint32(KVM_RUN_INTERNAL_SUBERROR, true)})`;
    }
    if (this.#reason === KVM_EXIT.FAIL_ENTRY) {
      return `${name} (hardware entry failure reason 0x${v.getBigUint64(KVM_RUN_FAIL_ENTRY_REASON, true).toString(16)})`;
    }
    return `unhandled exit ${name}`;
  }

  registers(): Record<string, string> {
    try {
      const regs = this.#vcpu.getRegs();
      const sregs = this.#vcpu.getSregs();
      const described = describeRegisters(regs, sregs);
      if (this.#reason === KVM_EXIT.SHUTDOWN && isInitState(regs, sregs)) {
        // kvm_amd INITs the vCPU before it reports the shutdown: what KVM_GET_REGS returns is the
        // reset state, not the guest's. Say so rather than present it as the faulting state.
        return {
          lost: 'the kernel reset this vCPU at the triple fault (kvm_amd INITs it on SHUTDOWN); the faulting registers are gone, these are the INIT state',
          ...described,
        };
      }
      return described;
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): void {
    this.#vcpu.close();
  }
}
