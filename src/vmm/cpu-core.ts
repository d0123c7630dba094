/**
 * What the VMM's run loop (vcpu-loop.ts) needs from "a CPU": enter the guest until the next exit,
 * describe the exit, complete port reads, and show registers for error reports. A KVM vCPU
 * (kvm-core.ts) and a simulated guest (sim-core.ts) implement it; everything above is shared.
 *
 * To keep the hot path free of allocations, run() returns a small integer and the details of an
 * I/O exit are read from `io` (a reused object) and ioValue()/setIoValue().
 */
import type { CpuState } from '../formats/stream/image.ts';

export const EXIT = {
  /** Port I/O: see `io`. For an IN, the loop supplies the values before the next run(). */
  IO: 1,
  /** The guest executed HLT. */
  HLT: 2,
  /** run() returned without a guest exit: a kick (pause/stop request) interrupted it. */
  INTERRUPTED: 3,
  /** The guest shut down (triple fault). */
  SHUTDOWN: 4,
  /** An access to an address no memory or device backs. */
  MMIO: 5,
  /** The CPU cannot go on: internal error, failed entry, an exit the VMM does not know. */
  ERROR: 6,
} as const;
export type ExitKind = (typeof EXIT)[keyof typeof EXIT];

export interface IoExit {
  /** 0 = IN, 1 = OUT (as KVM encodes it). */
  direction: number;
  port: number;
  /** Bytes per access: 1, 2 or 4. */
  size: number;
  /** Accesses in this exit (> 1 for string instructions). */
  count: number;
}

export interface CpuCore {
  readonly io: IoExit;
  run(): ExitKind;
  /** Value of access i of the current OUT exit. */
  ioValue(i: number): number;
  /** Supplies access i of the current IN exit. */
  setIoValue(i: number, value: number): void;
  /**
   * For a hypercall (an OUT to PORT.HYPERCALL): the low 32 bits of EAX, EBX, ECX, EDX, ESI, EDI
   * into regs[0..5]. Allocation-free.
   */
  readCallRegisters(regs: Uint32Array): void;
  /** Completes a hypercall: EAX, EBX, ECX, EDX = regs[0..3] (zero-extended) when the guest resumes. */
  completeCall(regs: Uint32Array): void;
  /**
   * Save/restore: completes an exit's pending work inside the CPU without running guest code
   * (KVM finishes an IN/OUT on the next KVM_RUN), so capture() sees a consistent state.
   */
  settle?(): void;
  /** Save/restore: the CPU's whole state, taken while the vCPU is out of the guest and settled. */
  capture?(): CpuState;
  /** For SHUTDOWN, MMIO and ERROR: what happened, in words. */
  describeExit(kind: ExitKind): string;
  /** Registers for error reports, as hex strings. */
  registers(): Record<string, string>;
  close(): void;
}
