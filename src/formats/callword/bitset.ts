/**
 * The 256-bit sets of the core family's answers (core.families, core.calls): four u64 values,
 * member n is bit n % 64 of value n / 64.
 */

/** The four u64 values of the set of `members` (each 0..255). */
export function bitset256(members: readonly number[]): bigint[] {
  const words = [0n, 0n, 0n, 0n];
  for (const n of members) words[n >> 6]! |= 1n << BigInt(n & 63);
  return words;
}

/** The members of a set given as four u64 values (missing values count as empty). */
export function fromBitset256(words: readonly bigint[]): number[] {
  const out: number[] = [];
  for (let n = 0; n < 256; n++) if (((words[n >> 6] ?? 0n) >> BigInt(n & 63)) & 1n) out.push(n);
  return out;
}
