/**
 * Data words a rule flagged (a boolean above 1, a counter that went down), each handed out once.
 *
 * Descriptors may cover the same words many times over (a hostile file). Looping over every
 * descriptor's items would cost the overlap multiplied, and report one bad word once per stat
 * covering it. Instead each flagged word is reported under the first stat (in descriptor order)
 * that covers it, found by skipping straight to the next unreported flagged word: a union-find
 * "next" pointer with path halving, so a whole check costs about the data block plus the
 * descriptors, however they overlap.
 */
import type { WorkMeter } from './data-index.ts';

export class FlaggedWords {
  /** #next[w]: a word ≥ w that may be the next unreported flagged one (words.length: none). */
  readonly #next: Uint32Array;
  readonly #meter: WorkMeter | undefined;

  constructor(words: number, flagged: (word: number) => boolean, meter?: WorkMeter) {
    this.#meter = meter;
    this.#next = new Uint32Array(words + 1);
    for (let w = 0; w <= words; w++) this.#next[w] = w === words || flagged(w) ? w : w + 1;
    if (meter) meter.items += words;
  }

  /** The unreported flagged words in [from, to), in order; each is reported now and never again. */
  take(from: number, to: number): number[] {
    const out: number[] = [];
    for (let w = this.#find(from); w < to; w = this.#find(w)) {
      out.push(w);
      this.#next[w] = w + 1;
    }
    return out;
  }

  #find(word: number): number {
    const next = this.#next;
    let w = word;
    while (next[w] !== w) {
      next[w] = next[next[w]!]!;
      w = next[w]!;
      if (this.#meter) this.#meter.items++;
    }
    return w;
  }
}
