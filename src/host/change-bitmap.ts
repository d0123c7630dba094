/**
 * A bitmap over the 32768 domids with two summary levels, so that the lowest set bit is found in
 * constant time whatever the number of clear bits, and draining k set bits costs O(k) — not a
 * scan of the 1024 words (DESIGN §3).
 *
 *   words[w]      bit b  = bit 32w + b of the map                 (1024 × u32 = 4 KiB)
 *   summary[s]    bit b  = words[32s + b] is non-zero             (32 × u32)
 *   top           bit s  = summary[s] is non-zero                 (one u32)
 *
 * Every set/clear keeps the levels exact (a summary bit is set iff its word is non-zero), so
 * `first()` is three count-trailing-zeros and never meets an empty word, and `firstFrom(start)`
 * is the same walk with the bits below `start` masked off at each level.
 */

/** Bits the map holds: 32 × 32 × 32. */
export const BITMAP_BITS = 32768;

/** Index of the lowest set bit of a non-zero u32. */
export function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class ChangeBitmap {
  readonly words = new Uint32Array(BITMAP_BITS / 32);
  readonly summary = new Uint32Array(BITMAP_BITS / 1024);
  #top = 0;

  #check(bit: number): void {
    if (!Number.isInteger(bit) || bit < 0 || bit >= BITMAP_BITS) {
      throw new RangeError(`bit ${bit} is outside 0..${BITMAP_BITS - 1}`);
    }
  }

  set(bit: number): void {
    this.#check(bit);
    const w = bit >>> 5;
    this.words[w]! |= 1 << (bit & 31);
    const s = w >>> 5;
    this.summary[s]! |= 1 << (w & 31);
    this.#top |= 1 << s;
  }

  clear(bit: number): void {
    this.#check(bit);
    const w = bit >>> 5;
    const word = this.words[w]! & ~(1 << (bit & 31));
    this.words[w] = word;
    if (word !== 0) return;
    const s = w >>> 5;
    const sum = this.summary[s]! & ~(1 << (w & 31));
    this.summary[s] = sum;
    if (sum === 0) this.#top &= ~(1 << s);
  }

  has(bit: number): boolean {
    this.#check(bit);
    return (this.words[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** True when no bit is set (one compare). */
  get empty(): boolean {
    return this.#top === 0;
  }

  /** The lowest set bit, or -1. */
  first(): number {
    const top = this.#top;
    if (top === 0) return -1;
    const s = lowestBit(top);
    const w = (s << 5) | lowestBit(this.summary[s]!);
    return (w << 5) | lowestBit(this.words[w]!);
  }

  /** The lowest set bit at or after `start`, or -1: the same three levels, masked below `start`. */
  firstFrom(start: number): number {
    this.#check(start);
    let w = start >>> 5;
    const inWord = this.words[w]! & (-1 << (start & 31));
    if (inWord !== 0) return (w << 5) | lowestBit(inWord);
    let s = w >>> 5;
    // `-1 << 32` is -1 in JavaScript (shift counts are mod 32), hence the explicit 32 cases.
    const nextWord = (w & 31) + 1;
    const inSummary = nextWord === 32 ? 0 : this.summary[s]! & (-1 << nextWord);
    if (inSummary !== 0) {
      w = (s << 5) | lowestBit(inSummary);
      return (w << 5) | lowestBit(this.words[w]!);
    }
    const nextSummary = s + 1;
    const inTop = nextSummary === 32 ? 0 : this.#top & (-1 << nextSummary);
    if (inTop === 0) return -1;
    s = lowestBit(inTop);
    w = (s << 5) | lowestBit(this.summary[s]!);
    return (w << 5) | lowestBit(this.words[w]!);
  }

  /** Clears and returns the lowest set bit, or -1. */
  take(): number {
    const bit = this.first();
    if (bit >= 0) this.clear(bit);
    return bit;
  }

  /**
   * Clears and returns the first set bit at or after `cursor`, wrapping around to the lowest one,
   * or -1. A reader that moves its cursor past each bit it takes visits every set bit in turn, so
   * churn on low bits cannot starve high ones.
   */
  takeFrom(cursor: number): number {
    let bit = this.firstFrom(cursor);
    if (bit < 0) bit = this.first();
    if (bit >= 0) this.clear(bit);
    return bit;
  }

  clearAll(): void {
    this.words.fill(0);
    this.summary.fill(0);
    this.#top = 0;
  }
}
