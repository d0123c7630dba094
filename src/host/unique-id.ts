/**
 * Unique domain ids (DESIGN §3): 64-bit, never 0, never repeated by one host, and meaningless to
 * consumers (they may compare them for equality, nothing else).
 *
 * The n-th id of a host is ((seed + n) × K) mod 2^64, with `seed` random and `K` a random odd
 * constant > 1. Multiplying by an odd K is a bijection of the integers modulo 2^64 (K has an
 * inverse, see `inverseOdd64`), and seed + n takes 2^64 distinct values before wrapping, so no id
 * repeats before 2^64 creations. The single n for which seed + n ≡ 0 would give id 0; it is
 * skipped. Consecutive ids look unrelated, so nobody is tempted to read an order or a count
 * into them.
 *
 * Nothing is persisted. Across host restarts uniqueness is probabilistic, not guaranteed: every
 * start draws a fresh seed and K from the system's random source, so the ids of two runs are two
 * unrelated permutations of the 2^64 space. For runs that create a and b domains the chance that
 * any id of one equals an id of the other is at most a·b / 2^64 (about 5·10^-8 for a million
 * creations on each side). Consumers that must tell hosts apart also have the host's pid and
 * start time (the prefix of every region name), which change on every restart.
 */
import { randomBytes } from 'node:crypto';

export const MASK64 = (1n << 64n) - 1n;

/** The inverse of an odd `k` modulo 2^64 (k × inverse ≡ 1), by Newton's iteration. */
export function inverseOdd64(k: bigint): bigint {
  const a = k & MASK64;
  if ((a & 1n) === 0n) throw new RangeError('only odd numbers are invertible modulo 2^64');
  // a × a ≡ 1 (mod 8) for odd a: 3 correct bits; each step doubles them (3 → 6 → … → 96 ≥ 64).
  let x = a;
  for (let i = 0; i < 5; i++) x = (x * (2n - ((a * x) & MASK64))) & MASK64;
  return x;
}

function random64(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

export interface UniqueIdParameters {
  /** Start of the counter (any u64). */
  seed: bigint;
  /** The multiplier: odd, > 1. */
  multiplier: bigint;
}

/** Fresh parameters from the system's random source. */
export function randomUniqueIdParameters(): UniqueIdParameters {
  let multiplier = random64() | 1n;
  while (multiplier === 1n) multiplier = random64() | 1n;
  return { seed: random64(), multiplier };
}

/** The id for counter value n (before skipping 0): ((seed + n) × K) mod 2^64. */
export function encodeUniqueId(p: UniqueIdParameters, n: bigint): bigint {
  return (((p.seed + n) & MASK64) * p.multiplier) & MASK64;
}

/** The counter value n that `encodeUniqueId` maps to `id`: (id × K⁻¹ − seed) mod 2^64. */
export function decodeUniqueId(p: UniqueIdParameters, id: bigint): bigint {
  return (((id * inverseOdd64(p.multiplier)) & MASK64) - p.seed) & MASK64;
}

/** Hands out the ids of one host. */
export class UniqueIdAllocator {
  readonly #params: UniqueIdParameters;
  /** Creations counted so far (the n of the next id, before the zero skip). */
  #n = 0n;

  constructor(params: UniqueIdParameters = randomUniqueIdParameters()) {
    const multiplier = params.multiplier & MASK64;
    if ((multiplier & 1n) === 0n || multiplier === 1n) throw new RangeError('the multiplier must be odd and > 1');
    this.#params = { seed: params.seed & MASK64, multiplier };
  }

  /** The next id: never 0, never one handed out before by this allocator. */
  next(): bigint {
    let id = encodeUniqueId(this.#params, this.#n);
    this.#n = (this.#n + 1n) & MASK64;
    if (id === 0n) {
      id = encodeUniqueId(this.#params, this.#n);
      this.#n = (this.#n + 1n) & MASK64;
    }
    return id;
  }
}

/** An id as the 16 lower-case hex digits used in region names. */
export { uniqueIdHex } from '../shm/region-names.ts';
