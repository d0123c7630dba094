/**
 * The control block shared by the host thread and the vCPU workers of one domain: per vCPU a
 * command word (written by the host) and a state word (written by the worker), in one
 * SharedArrayBuffer. Both sides notify after each store, so a worker halted or paused in
 * Atomics.wait wakes at once on a new command, and the host awaits states with Atomics.waitAsync.
 */

/** Commands, in CMD words. */
export const CMD = { HOLD: 0, RUN: 1, PAUSE: 2, STOP: 3 } as const;
/** States, in STATE words. */
export const STATE = {
  BOOTING: 0,
  /** Out of the guest, waiting for a command (HOLD or PAUSE). */
  PAUSED: 1,
  RUNNING: 2,
  /** The guest crashed or finished: the vCPU stays out of the guest, waiting for STOP. */
  PARKED: 3,
  /** The run loop ended; the worker is releasing its resources and exiting. */
  STOPPED: 4,
} as const;

/** Atomics.waitAsync (Node ≥ 16; not in this project's TypeScript lib yet). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
      ms: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

const WORDS_PER_VCPU = 4;
const CMD_WORD = 0;
const STATE_WORD = 1;

export function createControlBuffer(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * WORDS_PER_VCPU * 4);
}

/** One vCPU's view of the control block. */
export class VcpuControl {
  readonly #words: Int32Array;
  readonly #cmd: number;
  readonly #state: number;

  constructor(buffer: SharedArrayBuffer, vcpu: number) {
    this.#words = new Int32Array(buffer);
    this.#cmd = vcpu * WORDS_PER_VCPU + CMD_WORD;
    this.#state = vcpu * WORDS_PER_VCPU + STATE_WORD;
    if (this.#state >= this.#words.length) throw new RangeError(`no control words for vCPU ${vcpu}`);
  }

  get command(): number {
    return Atomics.load(this.#words, this.#cmd);
  }

  get state(): number {
    return Atomics.load(this.#words, this.#state);
  }

  /** Host side: posts a command and wakes a worker waiting on the command word. */
  send(cmd: number): void {
    Atomics.store(this.#words, this.#cmd, cmd);
    Atomics.notify(this.#words, this.#cmd);
  }

  /** Worker side: publishes a state and wakes a host waiting for it. */
  report(state: number): void {
    if (Atomics.load(this.#words, this.#state) === state) return;
    Atomics.store(this.#words, this.#state, state);
    Atomics.notify(this.#words, this.#state);
  }

  /** Worker side: sleeps while the command is still `cmd`, at most `ms` (Infinity = no limit). */
  waitWhile(cmd: number, ms = Number.POSITIVE_INFINITY): void {
    Atomics.wait(this.#words, this.#cmd, cmd, ms);
  }

  /** Host side: resolves when the state differs from `state`, or after `ms`. */
  async waitStateChange(state: number, ms: number): Promise<void> {
    const r = waitAsync(this.#words, this.#state, state, ms);
    if (r.async) await r.value;
  }
}
