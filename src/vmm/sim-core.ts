/**
 * A CpuCore whose "CPU" is a simulated guest (sim-workloads.ts): each run() advances the guest
 * to its next operation and reports it as the exit a real vCPU would take. A spinning guest
 * computes until the host's command word asks it to leave — the simulated kick.
 */
import { type CpuCore, EXIT, type ExitKind, type IoExit } from './cpu-core.ts';
import type { GuestProgram } from './guests.ts';
import { type GuestOp, type SimGuest, simGuest, xorshift } from './sim-workloads.ts';

/** xorshift steps between two looks at the command word while spinning. */
const SPIN_CHUNK = 100_000;

export class SimCore implements CpuCore {
  readonly io: IoExit = { direction: 0, port: 0, size: 0, count: 0 };
  readonly #guest: SimGuest;
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
  ) {
    this.#guest = simGuest(program, vcpu, rounds);
    this.#kicked = kicked;
  }

  run(): ExitKind {
    if (this.#current?.op !== 'spin') {
      const next = this.#guest.next(this.#inValue);
      this.#inValue = 0;
      this.#steps++;
      if (next.done) throw new Error('simulated guest ended (its final halt loop never ends)');
      this.#current = next.value;
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
    return this.#outValues[i] ?? 0;
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
    this.#guest.return();
  }
}
