/**
 * The sequence lock protecting one group of counters.
 *
 * Writer (one per group): seq+1 (odd), plain writes of the counters, seq+1 (even) with an atomic
 * store. Reader: atomic load of seq, retry while odd; plain copy of the group's bytes; atomic load
 * of seq again; retry if it changed. The reader never writes to the region and never makes the
 * writer wait; it gives up after a bounded number of retries and reports the group as torn
 * instead of spinning, and a whole read (many groups) shares one ReadBudget of retries, past
 * which the region is reported unstable.
 *
 * Ordering (hvkit's native layer targets x86-64 only, see src/os/libc.ts):
 *  - end: the even value is published with Atomics.store. This is the edge the ECMAScript memory
 *    model itself requires: a reader whose Atomics.load sees the even value must see the counters.
 *  - begin: no JavaScript store, atomic or not, can order the odd value before the plain counter
 *    stores that follow in the memory model (a reader that sees new counter bytes has not
 *    synchronized with anything); a seqlock's begin side always rests on the machine and the
 *    compiler. x86-64 keeps stores in program order (TSO), and V8 keeps typed-array element
 *    stores in program order (they are chained on TurboFan's effect chain; it never reorders or
 *    drops them). So on x64 seqStoreBegin is a plain store: Atomics.store would only add a
 *    builtin call and a locked instruction (~15 ns on Node 20), which is half the cost of an
 *    8-counter update. Elsewhere it keeps Atomics.store.
 *  - reader: plain loads are not reordered with other loads on x86-64, and every Atomics.load is
 *    an opaque builtin call that V8 does not move memory accesses across, so the plain copy stays
 *    between the two atomic loads.
 */

import { FormatError } from '../errors.ts';

/** Default bound on retries of one group read. */
export const DEFAULT_MAX_RETRIES = 1000;

/**
 * Default bound on the retries of one whole read (every group of a table, every entry of a
 * directory together). The per-group bound alone lets a hostile region with an odd sequence word
 * in every group cost groups × DEFAULT_MAX_RETRIES; a live writer collides with a reader only
 * now and then, so a read that needs more than this in all is reported unstable instead.
 */
export const DEFAULT_READ_RETRIES = 4 * DEFAULT_MAX_RETRIES;

/** The retries one whole read may still spend, shared by its group reads. */
export class ReadBudget {
  #left: number;
  #spent = 0;

  constructor(readonly limit = DEFAULT_READ_RETRIES) {
    this.#left = limit;
  }

  /** Takes one retry; false once none is left. */
  spend(): boolean {
    if (this.#left <= 0) return false;
    this.#left--;
    this.#spent++;
    return true;
  }

  /** Retries spent so far. */
  get spent(): number {
    return this.#spent;
  }
}

/** x64 only: see "begin" above. */
const PLAIN_BEGIN = process.arch === 'x64';

/**
 * Opens an update for a writer that tracks the sequence value itself (it is the group's only
 * writer): stores `odd` (already odd). Returns the stored value (wrapped to u32). Throws
 * RangeError when `index` is out of range (e.g. the views of a closed region), like Atomics.store.
 */
export function seqStoreBegin(words: Uint32Array, index: number, odd: number): number {
  const v = odd >>> 0;
  if (!PLAIN_BEGIN) {
    Atomics.store(words, index, v);
    return v;
  }
  if (index >= words.length) throw new RangeError(`sequence word ${index} is out of range`);
  words[index] = v;
  return v;
}

/** Publishes an update for a writer that tracks the sequence value itself: stores `even` atomically. */
export function seqStoreEnd(words: Uint32Array, index: number, even: number): number {
  const v = even >>> 0;
  Atomics.store(words, index, v);
  return v;
}

/** Starts an update: the sequence word becomes odd. Returns the odd value. */
export function seqBegin(words: Uint32Array, index: number): number {
  const odd = (Atomics.load(words, index) | 1) >>> 0;
  Atomics.store(words, index, odd);
  return odd;
}

/** Ends an update: the sequence word becomes the next even value. */
export function seqEnd(words: Uint32Array, index: number): void {
  Atomics.store(words, index, (Atomics.load(words, index) + 1) >>> 0);
}

let spinSink = 0;

/**
 * Waits a little before retrying, longer each time (capped): re-reading the sequence word in a
 * tight loop keeps pulling its cache line away from the writer and slows the very update the
 * reader is waiting for.
 */
function backoff(attempt: number): void {
  const spins = 1 << Math.min(attempt, 6);
  for (let i = 0; i < spins; i++) spinSink = (spinSink + i) | 0;
}

export interface SeqReadOutcome {
  /**
   * 'ok': `dst` holds a consistent copy; 'torn': this group's bound was hit (writer busy or stuck
   * odd); 'unstable': the whole read's budget ran out — the caller stops reading the region.
   */
  status: 'ok' | 'torn' | 'unstable';
  /** The (even) sequence value the copy belongs to; the last value seen when torn. */
  seq: number;
  /** Attempts beyond the first. */
  retries: number;
}

/**
 * Copies `length` bytes at `offset` of `src` into `dst` at `dstOffset`, consistently with the
 * sequence word at `words[seqIndex]`. Each retry is also taken from `budget` (the whole read's),
 * when given: once it is spent the copy stops with 'unstable'.
 */
export function seqReadInto(
  words: Uint32Array,
  seqIndex: number,
  src: Uint8Array,
  offset: number,
  length: number,
  dst: Uint8Array,
  dstOffset: number,
  maxRetries = DEFAULT_MAX_RETRIES,
  budget?: ReadBudget,
): SeqReadOutcome {
  let seen = 0;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) {
      if (budget && !budget.spend()) return { status: 'unstable', seq: seen, retries: attempt - 1 };
      backoff(attempt);
    }
    const before = Atomics.load(words, seqIndex);
    seen = before;
    if (before & 1) continue;
    dst.set(src.subarray(offset, offset + length), dstOffset);
    const after = Atomics.load(words, seqIndex);
    if (after === before) return { status: 'ok', seq: before, retries: attempt };
    seen = after;
  }
  return { status: 'torn', seq: seen, retries: maxRetries };
}

/**
 * The error a reader throws when a read's budget ran out: rule 'unstable', `field` naming the
 * group (or entry) being read when it did, the message naming the region.
 */
export function unstableRegionError(format: string, field: string, region: string, budget: ReadBudget): FormatError {
  return new FormatError(
    format,
    field,
    'unstable',
    `${region} kept changing: the read stopped after ${budget.spent} retries in all (the bound for one read)`,
    String(budget.spent),
  );
}
