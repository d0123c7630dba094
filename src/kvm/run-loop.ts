/**
 * A small synchronous run loop: enter the vCPU, decode the exit from the kvm_run area, handle port
 * I/O, stop at HLT. It runs on the calling thread (KVM_RUN blocks it), which is fine for guests that
 * halt after a handful of exits.
 */
import { exitReasonName, KVM_EXIT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT } from './constants.ts';
import { KvmError } from './errors.ts';
import type { Vcpu } from './vcpu.ts';

/** struct kvm_run offsets (x86_64). */
const RUN_EXIT_REASON = 8;
const RUN_UNION = 32;
const IO_DIRECTION = RUN_UNION;
const IO_SIZE = RUN_UNION + 1;
const IO_PORT = RUN_UNION + 2;
const IO_COUNT = RUN_UNION + 4;
const IO_DATA_OFFSET = RUN_UNION + 8;

export interface IoAccess {
  direction: 'in' | 'out';
  port: number;
  /** Bytes per access: 1, 2 or 4. */
  size: number;
  /** The value written (out) or supplied (in), one per repetition of a string instruction. */
  values: number[];
}

export interface RunOptions {
  /** Gives up (KvmError) after this many exits without a HLT. Default 10 000. */
  maxExits?: number;
  /** Supplies the value for an `in`; default 0. */
  onIn?: (port: number, size: number) => number;
}

export interface RunResult {
  /** Exits that reached userspace (I/O + the final HLT). */
  exits: number;
  /** KVM_EXIT_IO exits. One exit can carry several accesses (rep outs/ins). */
  ioExits: number;
  haltExits: number;
  io: IoAccess[];
}

function readValue(view: DataView, at: number, size: number): number {
  if (size === 1) return view.getUint8(at);
  if (size === 2) return view.getUint16(at, true);
  return view.getUint32(at, true);
}

function writeValue(view: DataView, at: number, size: number, value: number): void {
  if (size === 1) view.setUint8(at, value);
  else if (size === 2) view.setUint16(at, value, true);
  else view.setUint32(at, value >>> 0, true);
}

function handleIo(run: Uint8Array, options: RunOptions): IoAccess {
  const view = new DataView(run.buffer, run.byteOffset, run.byteLength);
  const dir = view.getUint8(IO_DIRECTION);
  const size = view.getUint8(IO_SIZE);
  const port = view.getUint16(IO_PORT, true);
  const count = view.getUint32(IO_COUNT, true);
  const dataOffset = Number(view.getBigUint64(IO_DATA_OFFSET, true));
  if (
    ![1, 2, 4].includes(size) ||
    dataOffset + size * count > run.length ||
    (dir !== KVM_EXIT_IO_IN && dir !== KVM_EXIT_IO_OUT)
  ) {
    throw new KvmError(`malformed KVM_EXIT_IO: dir ${dir} size ${size} count ${count} data_offset ${dataOffset}`);
  }
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = dataOffset + i * size;
    if (dir === KVM_EXIT_IO_OUT) {
      values.push(readValue(view, at, size));
    } else {
      const v = options.onIn?.(port, size) ?? 0;
      writeValue(view, at, size, v);
      values.push(v);
    }
  }
  return { direction: dir === KVM_EXIT_IO_OUT ? 'out' : 'in', port, size, values };
}

/** Runs `vcpu` until the guest executes HLT. Any exit other than I/O and HLT is a KvmError. */
export function runUntilHalt(vcpu: Vcpu, options: RunOptions = {}): RunResult {
  const maxExits = options.maxExits ?? 10_000;
  const result: RunResult = { exits: 0, ioExits: 0, haltExits: 0, io: [] };
  while (result.exits < maxExits) {
    if (!vcpu.enter()) continue; // EINTR: nothing happened in the guest
    result.exits++;
    const run = vcpu.run;
    const reason = new DataView(run.buffer, run.byteOffset, run.byteLength).getUint32(RUN_EXIT_REASON, true);
    if (reason === KVM_EXIT.IO) {
      result.ioExits++;
      result.io.push(handleIo(run, options));
    } else if (reason === KVM_EXIT.HLT) {
      result.haltExits++;
      return result;
    } else {
      const detail = new DataView(run.buffer, run.byteOffset, run.byteLength).getBigUint64(RUN_UNION, true);
      const rip = vcpu.getRegs().rip;
      throw new KvmError(
        `vcpu ${vcpu.id}: unexpected exit ${exitReasonName(reason)} (detail 0x${detail.toString(16)}, rip 0x${rip.toString(16)})`,
      );
    }
  }
  throw new KvmError(`vcpu ${vcpu.id}: no HLT after ${maxExits} exits`);
}
