/**
 * A CpuCore whose "CPU" is a simulated guest (sim-workloads.ts): each run() advances the guest
 * to its next operation and reports it as the exit a real vCPU would take. A spinning guest
 * computes until the host's command word asks it to leave — the simulated kick.
 */

import { InternalError, UsageError } from '../errors.ts';
import type { CpuState, SimCpuState } from '../formats/stream/image.ts';
import { type CpuCore, EXIT, type ExitKind, type IoExit } from './cpu-core.ts';
import { PORT } from './guest-abi.ts';
import type { GuestProgram } from './guests.ts';
import { type SimGuestOptions, simGuest } from './sim-guests.ts';
import { isCapturableProgram, SimMachine } from './sim-machine.ts';
import { type GuestOp, xorshift } from './sim-workloads.ts';

/** What SimCore needs of a simulated guest: the generator protocol, minus its result. */
interface GuestSteps {
  next(inValue: number): GuestOp;
  close(): void;
}

/** A generator-based guest (programs the resumable machine does not model, e.g. `calls`). */
function generatorSteps(program: GuestProgram, vcpu: number, rounds: number, options: SimGuestOptions): GuestSteps {
  const g = simGuest(program, vcpu, rounds, options);
  return {
    next(inValue) {
      const n = g.next(inValue);
      if (n.done) throw new InternalError('simulated guest ended (its final halt loop never ends)');
      return n.value;
    },
    close: () => void g.return(),
  };
}

/** xorshift steps between two looks at the command word while spinning. */
const SPIN_CHUNK = 100_000;

export class SimCore implements CpuCore {
  readonly io: IoExit = { direction: 0, port: 0, size: 0, count: 0 };
  readonly #guest: GuestSteps;
  /** The resumable form of the guest, when the program has one (then the core can be captured). */
  readonly #machine: SimMachine | undefined;
  readonly #kicked: () => boolean;
  #current: GuestOp | undefined;
  #outValues: number[] = [];
  #inValue = 0;
  #spinState = 1;
  #steps = 0;

  /** `kicked` says whether the host wants the vCPU out of the guest (its command is no longer RUN). */
  constructor(
    readonly program: GuestProgram,
    readonly vcpu: number,
    rounds: number,
    kicked: () => boolean,
    options: SimGuestOptions = {},
    restored?: SimCpuState,
  ) {
    if (isCapturableProgram(program)) {
      const machine = new SimMachine(program, vcpu, rounds, restored);
      this.#machine = machine;
      this.#guest = { next: (v) => machine.next(v), close: () => {} };
    } else {
      if (restored) throw new UsageError(`simulated ${program} guests cannot be restored`);
      this.#guest = generatorSteps(program, vcpu, rounds, options);
    }
    this.#kicked = kicked;
    if (restored && this.#machine) {
      this.#inValue = restored.inValue;
      this.#spinState = restored.spinState;
      this.#steps = restored.steps;
      // A guest inside an operation resumes it (a spinning guest keeps spinning).
      if (restored.started) this.#current = this.#machine.current();
    }
  }

  /** The guest's whole state; valid while the vCPU is out of run(). Only programs the machine models. */
  capture(): CpuState {
    if (!this.#machine) throw new UsageError(`simulated ${this.program} guests cannot be captured`);
    const sim = { ...this.#machine.state, inValue: this.#inValue, spinState: this.#spinState, steps: this.#steps };
    return { kind: 'sim', sim };
  }

  run(): ExitKind {
    if (this.#current?.op !== 'spin') {
      this.#current = this.#guest.next(this.#inValue);
      this.#inValue = 0;
      this.#steps++;
    }
    const op = this.#current;
    switch (op.op) {
      case 'out':
        this.#setIo(1, op.port, op.size, op.values.length);
        this.#outValues = op.values;
        return EXIT.IO;
      case 'in':
        this.#setIo(0, op.port, op.size, 1);
        return EXIT.IO;
      case 'hypercall':
        this.#setIo(1, PORT.HYPERCALL, 4, 1);
        return EXIT.IO;
      case 'hlt':
        return EXIT.HLT;
      case 'spin':
        while (!this.#kicked()) this.#spinState = xorshift(this.#spinState, SPIN_CHUNK);
        return EXIT.INTERRUPTED;
      case 'fault':
        return EXIT.SHUTDOWN;
      case 'mmio':
        return EXIT.MMIO;
    }
  }

  #setIo(direction: number, port: number, size: number, count: number): void {
    this.io.direction = direction;
    this.io.port = port;
    this.io.size = size;
    this.io.count = count;
  }

  ioValue(i: number): number {
    const op = this.#current;
    if (op?.op === 'hypercall') return op.regs[0]!;
    return this.#outValues[i] ?? 0;
  }

  readCallRegisters(regs: Uint32Array): void {
    const op = this.#current;
    if (op?.op === 'hypercall') regs.set(op.regs);
    else regs.fill(0);
  }

  completeCall(regs: Uint32Array): void {
    const op = this.#current;
    if (op?.op === 'hypercall') for (let i = 0; i < 4; i++) op.regs[i] = regs[i]!;
  }

  setIoValue(i: number, value: number): void {
    if (i === 0) this.#inValue = value;
  }

  describeExit(kind: ExitKind): string {
    const op = this.#current;
    if (kind === EXIT.SHUTDOWN) return 'guest shut down (triple fault): simulated';
    if (kind === EXIT.MMIO && op?.op === 'mmio') {
      return `simulated MMIO: ${op.write ? 'write' : 'read'} of ${op.size} bytes at guest physical 0x${op.address.toString(16)}, which no memory or device backs`;
    }
    return `simulated exit ${kind}`;
  }

  /** A simulated CPU has no real registers: the ones the real guest would show where it matters. */
  registers(): Record<string, string> {
    const regs: Record<string, string> = {
      simulated: 'true',
      program: this.program,
      rbx: `0x${this.vcpu.toString(16)}`,
      step: `0x${this.#steps.toString(16)}`,
    };
    if (this.#current?.op === 'fault') regs.rsi = `0x${this.#current.marker.toString(16)}`;
    return regs;
  }

  close(): void {
    this.#guest.close();
  }
}
