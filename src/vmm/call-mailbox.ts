/**
 * The per-vCPU hypercall mailbox between a vCPU worker and the host (main) thread, in one
 * SharedArrayBuffer per domain. The worker writes a request (call word, five u64 arguments as
 * 32-bit halves: no BigInt in the worker's call path), bumps the request sequence and notifies;
 * the host thread, waiting with Atomics.waitAsync, serves it and publishes the response (status
 * and three u64 values) by storing the request's sequence number in the response word and
 * notifying. The worker waits in Atomics.wait with a timeout, looking at its STOP check between
 * waits, so a domain being destroyed never leaves a worker blocked on an answer.
 *
 * Block of vCPU i (MAILBOX_STRIDE bytes at i × MAILBOX_STRIDE), in 32-bit words:
 *   0 request sequence (worker)   1 response sequence (host)   2 call word   3 status (s32)
 *   4..13 args[5] as u64 (lo, hi)  14..19 values[3] as u64 (lo, hi)
 */

const STRIDE_WORDS = 32;
export const MAILBOX_STRIDE = STRIDE_WORDS * 4;
const REQ = 0;
const RESP = 1;
const WORD = 2;
const STATUS = 3;
const ARGS = 4;
const VALUES = 14;
export const MAILBOX_ARGS = 5;
export const MAILBOX_VALUES = 3;
/** How long a worker waits for an answer before it looks at its STOP check again. */
const WAIT_SLICE_MS = 50;

export function createMailboxBuffer(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * MAILBOX_STRIDE);
}

/** Worker side of one vCPU's mailbox. */
export class MailboxClient {
  readonly #words: Int32Array;
  readonly #u32: Uint32Array;
  readonly #base: number;
  readonly #abandon: () => boolean;
  #seq = 0;

  /** `abandon` says whether to give up waiting (the host wants the vCPU stopped). */
  constructor(buffer: SharedArrayBuffer, vcpu: number, abandon: () => boolean) {
    this.#words = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
    this.#base = vcpu * STRIDE_WORDS;
    if (this.#base + STRIDE_WORDS > this.#words.length) throw new RangeError(`no mailbox for vCPU ${vcpu}`);
    this.#abandon = abandon;
  }

  /**
   * Makes the call in `regs` (EAX = word, EBX..EDI = arguments, as u32) and writes the answer
   * back into `regs` (EAX = status, EBX/ECX/EDX = low halves of values 0..2). Returns false when
   * it gave up waiting because `abandon` said so (regs are then unchanged).
   */
  call(regs: Uint32Array): boolean {
    const b = this.#base;
    const u = this.#u32;
    u[b + WORD] = regs[0]!;
    for (let i = 0; i < MAILBOX_ARGS; i++) {
      u[b + ARGS + 2 * i] = regs[1 + i]!;
      u[b + ARGS + 2 * i + 1] = 0;
    }
    const seq = (this.#seq + 1) | 0;
    this.#seq = seq;
    Atomics.store(this.#words, b + REQ, seq);
    Atomics.notify(this.#words, b + REQ);
    for (;;) {
      const resp = Atomics.load(this.#words, b + RESP);
      if (resp === seq) break;
      if (this.#abandon()) return false;
      Atomics.wait(this.#words, b + RESP, resp, WAIT_SLICE_MS);
    }
    regs[0] = u[b + STATUS]!;
    for (let i = 0; i < MAILBOX_VALUES; i++) regs[1 + i] = u[b + VALUES + 2 * i]!;
    return true;
  }
}

/** One request as the host thread sees it. */
export interface MailboxRequest {
  vcpu: number;
  word: number;
  args: bigint[];
}

export type MailboxHandler = (request: MailboxRequest) => Promise<{ status: number; values: readonly bigint[] }>;

const U64_MASK = (1n << 64n) - 1n;

/**
 * Host side: serves every vCPU's mailbox with `handler`, one request at a time per vCPU, until
 * close(). A handler that throws answers `failureStatus` (the vCPU must get an answer) and the
 * error goes to `onFailure`: a defect is answered, never hidden.
 */
export class MailboxServer {
  readonly #words: Int32Array;
  readonly #u32: Uint32Array;
  readonly #values: BigUint64Array;
  readonly #args: BigUint64Array;
  #closed = false;
  readonly #loops: Promise<void>[] = [];

  constructor(
    buffer: SharedArrayBuffer,
    vcpus: number,
    private readonly handler: MailboxHandler,
    private readonly failureStatus: number,
    private readonly onFailure: (error: unknown) => void,
  ) {
    this.#words = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
    this.#values = new BigUint64Array(buffer);
    this.#args = new BigUint64Array(buffer);
    for (let v = 0; v < vcpus; v++) this.#loops.push(this.#serve(v));
  }

  async #serve(vcpu: number): Promise<void> {
    const b = vcpu * STRIDE_WORDS;
    let seen = Atomics.load(this.#words, b + REQ);
    while (!this.#closed) {
      const seq = Atomics.load(this.#words, b + REQ);
      if (seq === seen) {
        const w = waitAsync(this.#words, b + REQ, seen, Number.POSITIVE_INFINITY);
        if (w.async) await w.value;
        continue;
      }
      seen = seq;
      const args: bigint[] = [];
      for (let i = 0; i < MAILBOX_ARGS; i++) args.push(this.#args[b / 2 + ARGS / 2 + i]!);
      let status: number;
      let values: readonly bigint[];
      try {
        ({ status, values } = await this.handler({ vcpu, word: this.#u32[b + WORD]!, args }));
      } catch (e) {
        this.onFailure(e);
        status = this.failureStatus;
        values = [];
      }
      this.#words[b + STATUS] = status | 0;
      for (let i = 0; i < MAILBOX_VALUES; i++) this.#values[b / 2 + VALUES / 2 + i] = (values[i] ?? 0n) & U64_MASK;
      Atomics.store(this.#words, b + RESP, seq);
      Atomics.notify(this.#words, b + RESP);
    }
  }

  /** Stops serving (after the request in progress, if any); resolves when every loop ended. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (let i = 0; i < this.#words.length; i += STRIDE_WORDS) Atomics.notify(this.#words, i + REQ);
    await Promise.all(this.#loops);
  }
}

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
