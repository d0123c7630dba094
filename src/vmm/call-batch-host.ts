/**
 * The host's side of call batches (schemas/call-batch) for one domain: each vCPU's registered
 * buffer, and the flush that processes its entries in order through the dispatcher, straight
 * from and to guest memory.
 *
 * Guest memory is hostile: the header and each entry are copied out before they are looked at
 * (the guest may change them meanwhile; the copy is what is checked and used), a header breaking
 * any rule is refused as a whole with bad_argument before anything is written, and the host
 * writes only each processed entry's status and result, and `next`.
 */

import type { CallContext, CallOutcome } from '../calls/dispatcher.ts';
import { FormatError } from '../errors.ts';
import {
  BATCH_CALL,
  checkHeader,
  checkPlacement,
  decodeEntry,
  decodeHeader,
  ENTRY_OFFSET,
  ENTRY_SIZE,
  HEADER_OFFSET,
  HEADER_SIZE,
  MAX_CAPACITY,
} from '../formats/callbatch/index.ts';
import { ANNOTATION, FAMILY, STATUS } from '../formats/callword/constants.ts';
import { callWord } from '../formats/callword/word.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';

/** What the batch host needs of the dispatcher (the Dispatcher class satisfies it). */
export interface CallSink {
  dispatch(word: number, args: readonly bigint[], ctx: CallContext): Promise<CallOutcome>;
  features(): { query(word: number): { annotations: number } | undefined };
  /** Told about a defect met while serving a guest (the guest gets internal_error). */
  reportInternalError(name: string, error: unknown): void;
}

export const BATCH_REGISTER_WORD = callWord(FAMILY.core, BATCH_CALL.register);
export const BATCH_FLUSH_WORD = callWord(FAMILY.core, BATCH_CALL.flush);

/** The word with its annotation bits cleared (reserved bits kept: they make a different call). */
export const withoutAnnotation = (word: number): number => (word & ~0xff) >>> 0;

export function isBatchCall(word: number): boolean {
  const key = withoutAnnotation(word);
  return key === BATCH_REGISTER_WORD || key === BATCH_FLUSH_WORD;
}

const fail = (status: number): CallOutcome => ({ status, values: [] });

export class BatchHost {
  /** Registered buffer address per vCPU (0 = none). */
  readonly #buffers: number[];
  readonly #header = new Uint8Array(HEADER_SIZE);
  readonly #entry = new Uint8Array(ENTRY_SIZE);
  readonly #answer = new Uint8Array(12);
  readonly #answerView = new DataView(this.#answer.buffer);
  readonly #u32 = new Uint8Array(4);

  /**
   * `budget`: most entries one flush processes (default MAX_CAPACITY: a whole batch); a smaller
   * budget makes the guest flush again — the restartable path.
   */
  constructor(
    vcpus: number,
    private readonly memory: GuestMemoryAccess,
    private readonly sink: CallSink,
    private readonly budget = MAX_CAPACITY,
  ) {
    if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`batch budget must be ≥ 1: ${budget}`);
    this.#buffers = new Array<number>(vcpus).fill(0);
  }

  /** core.batch_register: args [gpa]; 0 unregisters. A refused buffer leaves the old registration. */
  register(vcpu: number, gpa: bigint): CallOutcome {
    if (gpa === 0n) {
      this.#buffers[vcpu] = 0;
      return { status: STATUS.ok, values: [] };
    }
    if (gpa > BigInt(Number.MAX_SAFE_INTEGER)) return fail(STATUS.badArgument);
    const address = Number(gpa);
    const header = this.#readHeader(address);
    if (!header) return fail(STATUS.badArgument);
    this.#buffers[vcpu] = address;
    return { status: STATUS.ok, values: [BigInt(header.capacity)] };
  }

  /** core.batch_flush: processes the registered buffer from `next`; values [processed, next, count]. */
  async flush(vcpu: number, ctx: CallContext): Promise<CallOutcome> {
    const address = this.#buffers[vcpu] ?? 0;
    if (address === 0) return fail(STATUS.invalidState);
    const header = this.#readHeader(address);
    if (!header) return fail(STATUS.badArgument);
    const stopOnError = (header.flags & 1) !== 0;
    let i = header.next;
    let processed = 0;
    while (i < header.count && processed < this.budget) {
      const at = address + HEADER_SIZE + i * ENTRY_SIZE;
      this.memory.read(at, this.#entry);
      const entry = decodeEntry(this.#entry);
      const outcome = entry.reservedZero ? await this.#make(entry.word, entry.args, ctx) : fail(STATUS.badArgument);
      this.#answerView.setInt32(0, outcome.status, true);
      this.#answerView.setBigUint64(4, outcome.status === STATUS.ok ? (outcome.values[0] ?? 0n) : 0n, true);
      this.memory.write(at + ENTRY_OFFSET.status, this.#answer);
      i++;
      processed++;
      if (stopOnError && outcome.status !== STATUS.ok) break;
    }
    new DataView(this.#u32.buffer).setUint32(0, i, true);
    this.memory.write(address + HEADER_OFFSET.next, this.#u32);
    return { status: STATUS.ok, values: [BigInt(processed), BigInt(i), BigInt(header.count)] };
  }

  /** One entry: only calls that may be queued and honour it; never a batch call. */
  async #make(word: number, args: bigint[], ctx: CallContext): Promise<CallOutcome> {
    if ((word & ANNOTATION.mayQueue) === 0 || isBatchCall(word)) return fail(STATUS.notPermitted);
    const feature = this.sink.features().query(word);
    // An absent call goes to the dispatcher anyway: it answers the precise error (reserved bits, unknown …).
    if (feature && (feature.annotations & ANNOTATION.mayQueue) === 0) return fail(STATUS.notPermitted);
    return this.sink.dispatch(word, args, ctx);
  }

  /** The header at `address`, copied and checked; undefined when any rule fails. */
  #readHeader(address: number): ReturnType<typeof decodeHeader> | undefined {
    try {
      checkPlacement(address, 0, this.memory.size);
      this.memory.read(address, this.#header);
      const header = decodeHeader(this.#header);
      checkHeader(header, address, this.memory.size);
      return header;
    } catch (e) {
      if (e instanceof FormatError) return undefined; // the guest's header breaks a rule
      throw e;
    }
  }
}
