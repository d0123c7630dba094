/**
 * The simulated guests: the programs of guest/ re-told in TypeScript, step for step, as
 * generators of the operations the real guests perform (port accesses, HLTs, a triple fault, an
 * unbacked memory access). Same ABI, same reports, same values — a simulated run and a KVM run of
 * the same workload and rounds produce the same report sequence. Keep them in sync with
 * guest/common/runtime.c and guest/<workload>/.
 */
import { DEVICE_PORTS, deviceInValue, PORT, REPORT, SEED_MULTIPLIER, WORKLOAD } from './guest-abi.ts';

export type GuestOp =
  | { op: 'out'; port: number; size: number; values: number[] }
  | { op: 'in'; port: number; size: number }
  | { op: 'hlt' }
  /**
   * `outl %eax, $HYPERCALL` with regs = EAX, EBX, ECX, EDX, ESI, EDI; the VMM writes the answer
   * into regs[0..3] (status, values) before the guest's next step reads it.
   */
  | { op: 'hypercall'; regs: Uint32Array }
  /** Computes forever without an exit (the `spin` guest). */
  | { op: 'spin' }
  | { op: 'fault'; marker: number }
  | { op: 'mmio'; address: number; size: number; write: boolean };

/** A running simulated guest: yields operations, receives the value of each IN. */
export type SimGuest = Generator<GuestOp, void, number>;

export interface GuestState {
  vcpu: number;
  halts: number;
  ioOps: number;
  reports: number;
  errors: number;
  checksum: number;
}

const out = (port: number, size: number, values: number[]): GuestOp => ({ op: 'out', port, size, values });

export function* report(g: GuestState, code: number, value: number): SimGuest {
  yield out(PORT.REPORT_VALUE, 4, [value >>> 0]);
  yield out(PORT.REPORT_CODE, 4, [code]);
  g.reports++;
}

function* halt(g: GuestState): SimGuest {
  yield { op: 'hlt' };
  g.halts++;
}

function* setHaltPeriod(g: GuestState, microseconds: number): SimGuest {
  yield out(PORT.HALT_PERIOD, 4, [microseconds >>> 0]);
  g.ioOps++;
}

function* deviceOut(g: GuestState, port: number, value: number): SimGuest {
  yield out(port, 4, [value >>> 0]);
  g.ioOps++;
}

function absorb(g: GuestState, value: number, expected: number): void {
  if (value !== expected) g.errors++;
  g.checksum = (Math.imul(g.checksum, 31) + value) >>> 0;
  g.ioOps++;
}

function* deviceCheckIn(g: GuestState, port: number, last: number): SimGuest {
  const value = yield { op: 'in', port, size: 4 };
  absorb(g, value >>> 0, deviceInValue(port, last >>> 0, 4));
}

function* deviceOutString(g: GuestState, port: number, bytes: number[]): SimGuest {
  yield out(port, 1, bytes);
  g.ioOps += bytes.length;
  const value = yield { op: 'in', port, size: 1 };
  absorb(g, value & 0xff, deviceInValue(port, bytes[bytes.length - 1]!, 1));
}

export function xorshift(x: number, iterations: number): number {
  let v = x >>> 0;
  for (let i = 0; i < iterations; i++) {
    v = (v ^ (v << 13)) >>> 0;
    v = (v ^ (v >>> 17)) >>> 0;
    v = (v ^ (v << 5)) >>> 0;
  }
  return v;
}

export type Round = (g: GuestState, round: number) => SimGuest;

/** What a workload may do before its first round and after its last (guest/common's weak hooks). */
export interface WorkloadHooks {
  start?: (g: GuestState) => SimGuest;
  finish?: (g: GuestState) => SimGuest;
}

export function* computeRound(g: GuestState): SimGuest {
  g.checksum = xorshift(g.checksum, WORKLOAD.COMPUTE_ITERATIONS);
  yield* halt(g);
}

export function* ioRound(g: GuestState, round: number): SimGuest {
  for (let j = 0; j < WORKLOAD.IO_BURST; j++) {
    const port = PORT.DEVICE_BASE + (j % DEVICE_PORTS);
    const value = (Math.imul(round, 0x10000) + j) >>> 0;
    yield* deviceOut(g, port, value);
    yield* deviceCheckIn(g, port, value);
  }
  if (round % WORKLOAD.IO_HALT_EVERY === 0) yield* halt(g);
}

export function* mixedRound(g: GuestState, round: number): SimGuest {
  const x = xorshift(g.checksum, WORKLOAD.MIXED_ITERATIONS);
  g.checksum = x;
  for (let j = 0; j < WORKLOAD.MIXED_IO_PAIRS; j++) {
    const port = PORT.DEVICE_BASE + (j % 2);
    yield* deviceOut(g, port, x + j);
    yield* deviceCheckIn(g, port, (x + j) >>> 0);
  }
  const bytes = Array.from({ length: WORKLOAD.MIXED_STRING_BYTES }, (_, k) => ((x >>> ((k % 4) * 8)) + k) & 0xff);
  yield* deviceOutString(g, PORT.DEVICE_BASE + 3, bytes);
  yield* setHaltPeriod(g, WORKLOAD.MIXED_HALT_BASE_US + (round % 4) * WORKLOAD.MIXED_HALT_STEP_US);
  yield* halt(g);
}

/** guest/common/runtime.c's guest_main, then entry.S's final halt loop. */
export function* workloadGuest(vcpu: number, rounds: number, round: Round, hooks: WorkloadHooks = {}): SimGuest {
  const g: GuestState = {
    vcpu,
    halts: 0,
    ioOps: 0,
    reports: 0,
    errors: 0,
    checksum: Math.imul(vcpu + 1, SEED_MULTIPLIER) >>> 0,
  };
  yield* report(g, REPORT.START, vcpu);
  if (hooks.start) yield* hooks.start(g);
  for (let r = 1; rounds === 0 || r <= rounds; r++) {
    yield* round(g, r);
    yield* report(g, REPORT.ROUND, r);
  }
  if (hooks.finish) yield* hooks.finish(g);
  yield* report(g, REPORT.HALTS, g.halts);
  yield* report(g, REPORT.IO_OPS, g.ioOps);
  yield* report(g, REPORT.CHECKSUM, g.checksum);
  yield* report(g, REPORT.CHECK_ERRORS, g.errors);
  yield* report(g, REPORT.REPORTS, g.reports);
  yield* report(g, REPORT.DONE, rounds);
  for (;;) yield { op: 'hlt' };
}

/** The test guests (guest/spin, guest/fault, guest/mmio): START, then their one behaviour. */
export function* testGuest(vcpu: number, last: GuestOp): SimGuest {
  yield out(PORT.REPORT_VALUE, 4, [vcpu]);
  yield out(PORT.REPORT_CODE, 4, [REPORT.START]);
  yield last;
  for (;;) yield { op: 'hlt' };
}
