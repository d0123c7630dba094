/**
 * What the VMM's run loop (vcpu-loop.ts) needs from "a CPU": enter the guest until the next exit,
 * describe the exit, complete port reads, and show registers for error reports. A KVM vCPU
 * (kvm-core.ts) and a simulated guest (sim-core.ts) implement it; everything above is shared.
 *
 * To keep the hot path free of allocations, run() returns a small integer and the details of an
 * I/O exit are read from `io` (a reused object) and ioValue()/setIoValue().
 */
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
  /** For SHUTDOWN, MMIO and ERROR: what happened, in words. */
  describeExit(kind: ExitKind): string;
  /** Registers for error reports, as hex strings. */
  registers(): Record<string, string>;
  close(): void;
}
