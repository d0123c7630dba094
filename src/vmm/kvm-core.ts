/**
 * A CpuCore over a real KVM vCPU, used in the vCPU's worker thread: the vCPU fd belongs to the
 * host thread's Vm; this thread maps its own view of kvm_run (Vcpu.borrow).
 */
import {
  exitReasonName,
  KVM_EXIT,
  KVM_RUN_EXIT_REASON,
  KVM_RUN_FAIL_ENTRY_REASON,
  KVM_RUN_IMMEDIATE_EXIT,
  KVM_RUN_INTERNAL_SUBERROR,
  KVM_RUN_UNION,
} from '../kvm/constants.ts';
import { KvmError } from '../kvm/errors.ts';
import { describeRegisters } from '../kvm/regs.ts';
import { Vcpu } from '../kvm/vcpu.ts';
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

  constructor(id: number, fd: number, runSize: number) {
    this.#vcpu = Vcpu.borrow(id, fd, runSize);
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
      return describeRegisters(this.#vcpu.getRegs(), this.#vcpu.getSregs());
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): void {
    this.#vcpu.close();
  }
}
