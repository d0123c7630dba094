/**
 * The sequence lock protecting one group of counters.
 *
 * Writer (one per group): seq+1 (odd) with an atomic store, plain writes of the counters, seq+1
 * (even) with an atomic store. Reader: atomic load of seq, retry while odd; plain copy of the
 * group's bytes; atomic load of seq again; retry if it changed. The reader never writes to the
 * region and never makes the writer wait; it gives up after a bounded number of retries and
 * reports the group as torn instead of spinning.
 *
 * Ordering: V8 compiles Atomics.store to a locked instruction on x86-64 (a full barrier), and
 * plain loads are not reordered with other loads there, so the plain copy stays between the two
 * atomic loads. hvkit's native layer targets x86-64 only (see src/kvm/libc.ts).
 */

/** Default bound on retries of one group read. */
export const DEFAULT_MAX_RETRIES = 1000;

/**
 * Stores a sequence value for a writer that tracks it itself (it is the group's only writer),
 * saving the atomic re-read of seqBegin/seqEnd. Returns the stored value (wrapped to u32).
 */
export function seqStore(words: Uint32Array, index: number, value: number): number {
  const v = value >>> 0;
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
  /** 'ok': `dst` holds a consistent copy; 'torn': the bound was hit (writer busy or stuck odd). */
  status: 'ok' | 'torn';
  /** The (even) sequence value the copy belongs to; the last value seen when torn. */
  seq: number;
  /** Attempts beyond the first. */
  retries: number;
}

/**
 * Copies `length` bytes at `offset` of `src` into `dst` at `dstOffset`, consistently with the
 * sequence word at `words[seqIndex]`.
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
): SeqReadOutcome {
  let seen = 0;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) backoff(attempt);
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
