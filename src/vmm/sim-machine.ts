/**
 * The simulated guests as resumable state machines: the same programs as sim-workloads.ts (which
 * stays the readable reference the tests compare against), but with every bit of the guest's
 * state in one plain object — its phase, round, operation index and counters — so a paused
 * simulated vCPU can be saved, restored and migrated, and continue exactly where it stopped.
 *
 * next(inValue) has the generator's semantics: it completes the current operation (an IN receives
 * `inValue`), advances, and returns the next operation.
 */
import type { SimCpuState } from '../formats/stream/image.ts';
import {
  DEVICE_PORTS,
  deviceInValue,
  GUEST_UNMAPPED_ADDRESS,
  PORT,
  REPORT,
  SEED_MULTIPLIER,
  WORKLOAD,
} from './guest-abi.ts';
import type { GuestProgram } from './guests.ts';
import { type GuestOp, xorshift } from './sim-workloads.ts';

export const SIM_PHASE = { START: 0, ROUND: 1, FINAL: 2, IDLE: 3, TEST: 4 } as const;

/** One operation of a phase: how to produce it (when reached) and what completing it does. */
interface Step {
  op(s: SimCpuState): GuestOp;
  done?(s: SimCpuState, inValue: number): void;
}

const out = (port: number, size: number, values: number[]): GuestOp => ({ op: 'out', port, size, values });
const HLT: GuestOp = { op: 'hlt' };

function absorb(s: SimCpuState, value: number, expected: number): void {
  if (value !== expected) s.errors++;
  s.checksum = (Math.imul(s.checksum, 31) + value) >>> 0;
  s.ioOps++;
}

/** A report: the value (evaluated when reached), then the code. */
function report(code: number, value: (s: SimCpuState) => number, count = true): Step[] {
  return [
    { op: (s) => out(PORT.REPORT_VALUE, 4, [value(s) >>> 0]) },
    { op: () => out(PORT.REPORT_CODE, 4, [code]), done: count ? (s) => void s.reports++ : undefined },
  ];
}

const halt: Step = { op: () => HLT, done: (s) => void s.halts++ };

function deviceOut(port: number, value: number): Step {
  return { op: () => out(port, 4, [value >>> 0]), done: (s) => void s.ioOps++ };
}

function deviceCheckIn(port: number, last: number): Step {
  return {
    op: () => ({ op: 'in', port, size: 4 }),
    done: (s, v) => absorb(s, v >>> 0, deviceInValue(port, last >>> 0, 4)),
  };
}

function roundSteps(program: GuestProgram, r: number, x: number): Step[] {
  const steps: Step[] = [];
  if (program === 'compute') steps.push(halt);
  else if (program === 'io') {
    for (let j = 0; j < WORKLOAD.IO_BURST; j++) {
      const port = PORT.DEVICE_BASE + (j % DEVICE_PORTS);
      const value = (Math.imul(r, 0x10000) + j) >>> 0;
      steps.push(deviceOut(port, value), deviceCheckIn(port, value));
    }
    if (r % WORKLOAD.IO_HALT_EVERY === 0) steps.push(halt);
  } else {
    for (let j = 0; j < WORKLOAD.MIXED_IO_PAIRS; j++) {
      const port = PORT.DEVICE_BASE + (j % 2);
      steps.push(deviceOut(port, x + j), deviceCheckIn(port, (x + j) >>> 0));
    }
    const port = PORT.DEVICE_BASE + 3;
    const bytes = Array.from({ length: WORKLOAD.MIXED_STRING_BYTES }, (_, k) => ((x >>> ((k % 4) * 8)) + k) & 0xff);
    steps.push({
      op: () => out(port, 1, bytes),
      done: (s) => {
        s.ioOps += bytes.length;
      },
    });
    steps.push({
      op: () => ({ op: 'in', port, size: 1 }),
      done: (s, v) => absorb(s, v & 0xff, deviceInValue(port, bytes[bytes.length - 1]!, 1)),
    });
    const period = WORKLOAD.MIXED_HALT_BASE_US + (r % 4) * WORKLOAD.MIXED_HALT_STEP_US;
    steps.push({ op: () => out(PORT.HALT_PERIOD, 4, [period >>> 0]), done: (s) => void s.ioOps++ });
    steps.push(halt);
  }
  steps.push(...report(REPORT.ROUND, () => r));
  return steps;
}

const FINAL_STEPS: Step[] = [
  ...report(REPORT.HALTS, (s) => s.halts),
  ...report(REPORT.IO_OPS, (s) => s.ioOps),
  ...report(REPORT.CHECKSUM, (s) => s.checksum),
  ...report(REPORT.CHECK_ERRORS, (s) => s.errors),
  ...report(REPORT.REPORTS, (s) => s.reports),
];

function testOp(program: GuestProgram): GuestOp {
  if (program === 'spin') return { op: 'spin' };
  if (program === 'fault') return { op: 'fault', marker: 0xdead_beef };
  return { op: 'mmio', address: GUEST_UNMAPPED_ADDRESS, size: 4, write: true };
}

const isWorkload = (p: GuestProgram) => p === 'compute' || p === 'io' || p === 'mixed';

/** Programs this machine models (the others run as generators and cannot be saved). */
export function isCapturableProgram(p: GuestProgram): boolean {
  return isWorkload(p) || p === 'spin' || p === 'fault' || p === 'mmio';
}

/** A fresh guest's state (before its first operation). */
export function initialSimState(program: GuestProgram, vcpu: number): SimCpuState {
  return {
    started: false,
    phase: SIM_PHASE.START,
    round: 0,
    step: 0,
    x: 0,
    halts: 0,
    ioOps: 0,
    reports: 0,
    errors: 0,
    checksum: isWorkload(program) ? Math.imul(vcpu + 1, SEED_MULTIPLIER) >>> 0 : 0,
    inValue: 0,
    spinState: 1,
    steps: 0,
  };
}

export class SimMachine {
  readonly state: SimCpuState;
  #steps: Step[];

  constructor(
    readonly program: GuestProgram,
    readonly vcpu: number,
    readonly rounds: number,
    state?: SimCpuState,
  ) {
    this.state = state ? { ...state } : initialSimState(program, vcpu);
    this.#steps = this.#phaseSteps();
    if (this.state.step >= this.#steps.length)
      throw new RangeError(`simulated guest state: step ${this.state.step} is past its phase`);
  }

  /** The operation the guest is at (after the first next()). */
  current(): GuestOp {
    return this.#steps[this.state.step]!.op(this.state);
  }

  next(inValue: number): GuestOp {
    const s = this.state;
    if (!s.started) {
      s.started = true;
      return this.current();
    }
    this.#steps[s.step]!.done?.(s, inValue);
    s.step++;
    while (s.step >= this.#steps.length) this.#advancePhase();
    return this.current();
  }

  #advancePhase(): void {
    const s = this.state;
    s.step = 0;
    if (s.phase === SIM_PHASE.START && isWorkload(this.program)) this.#enterRound(1);
    else if (s.phase === SIM_PHASE.START) s.phase = SIM_PHASE.TEST;
    else if (s.phase === SIM_PHASE.ROUND) {
      if (this.rounds !== 0 && s.round >= this.rounds) s.phase = SIM_PHASE.FINAL;
      else this.#enterRound(s.round + 1);
    } else if (s.phase === SIM_PHASE.FINAL || s.phase === SIM_PHASE.TEST) s.phase = SIM_PHASE.IDLE;
    this.#steps = this.#phaseSteps();
  }

  /** The round's prologue runs once, when the round begins (as the generator computes before its first yield). */
  #enterRound(r: number): void {
    const s = this.state;
    s.phase = SIM_PHASE.ROUND;
    s.round = r;
    if (this.program === 'compute') s.checksum = xorshift(s.checksum, WORKLOAD.COMPUTE_ITERATIONS);
    else if (this.program === 'mixed') {
      s.x = xorshift(s.checksum, WORKLOAD.MIXED_ITERATIONS);
      s.checksum = s.x;
    }
  }

  #phaseSteps(): Step[] {
    const s = this.state;
    switch (s.phase) {
      case SIM_PHASE.START:
        return isWorkload(this.program)
          ? report(REPORT.START, () => this.vcpu)
          : report(REPORT.START, () => this.vcpu, false);
      case SIM_PHASE.ROUND:
        return roundSteps(this.program, s.round, s.x);
      case SIM_PHASE.FINAL:
        return [...FINAL_STEPS, ...report(REPORT.DONE, () => this.rounds)];
      case SIM_PHASE.TEST: {
        const op = testOp(this.program);
        return [{ op: () => op }];
      }
      case SIM_PHASE.IDLE:
        return [{ op: () => HLT }];
      default:
        throw new RangeError(`simulated guest state: unknown phase ${s.phase}`);
    }
  }
}
