/**
 * The page-pool ABI (DESIGN §5, after tmem): call numbers of family 0x04, create flags, the
 * 32-bit argument layout and the statuses each call answers.
 *
 * Create flags (u32; any bit above 31 is bad_argument):
 *   bit 0        persistent (else ephemeral)
 *   bits 1..23   reserved, must be zero              → bad_argument
 *   bits 24..31  pool ABI version: 0 or 1            → anything else: not_supported, no pool made
 *
 * Object ids: 64-bit in v0 (2 u32 words), 192-bit in v1 (6 u32 words), least significant word
 * first. A v0 id X is the v1 id (X, 0, 0): v0 ids are the subspace of v1 ids whose upper 128 bits
 * are zero. The service keys every page by the 192-bit id, whatever the version it came in.
 *
 * Page calls take `pool_page` as their first argument: bits 0..11 the pool id (1..MAX_POOL_ID),
 * bits 12..31 the guest page frame of the 4 KiB page to copy (put/get; zero for the flushes), so
 * a 32-bit guest passes pool and page in one register. A hypercall carries five argument
 * registers (EBX..EDI; a batch entry five args too), so a v1 id cannot travel in registers: as in
 * tmem v1, a v1 guest passes it BY REFERENCE — `oid_gpa`, the guest-physical address of the id's
 * OID_BYTES (24) bytes in its memory: six u32 words, least significant first, little-endian,
 * OID_ALIGN (8) byte aligned. The host copies those 24 bytes exactly once per call (no second
 * fetch a racing vCPU could change) and answers bad_argument for an unaligned address or one
 * whose 24 bytes are not all inside guest memory. v0 keeps its two words in registers:
 *   put / get      v0: [pool_page, index, oid word 0, oid word 1]    v1: [pool_page, index, oid_gpa]
 *   flush_page     v0: [pool_id,   index, oid word 0, oid word 1]    v1: [pool_id,   index, oid_gpa]
 *   flush_object   v0: [pool_id,   oid word 0, oid word 1]           v1: [pool_id,   oid_gpa]
 *   destroy:       [pool_id]
 *   create:        [flags]                  → values [pool_id]
 * Values: put → []; get → [1 hit | 0 miss]; flush_page → [pages removed 0|1];
 * flush_object / destroy → [pages removed].
 */

// The numbers (pool_call, pool_flags, pool_version) are the call-word ABI's, in constants.ts;
// test/calls/codec.test.ts proves they equal the frozen ABI.
import { POOL_FLAG, POOL_ID_MASK, POOL_VERSION } from './constants.ts';

/** Pool ABI versions this host serves. */
export const POOL_VERSIONS = [POOL_VERSION.v0, POOL_VERSION.v1] as const;
export type PoolVersion = (typeof POOL_VERSIONS)[number];

/** u32 words of an object id per version. */
export const OID_WORDS: Record<PoolVersion, number> = { 0: 2, 1: 6 };

/** Does a version pass its object ids by reference (a guest-physical address) rather than in registers? */
export const OID_BY_REFERENCE: Record<PoolVersion, boolean> = { 0: false, 1: true };
/** Bytes of an object id in guest memory (v1: six little-endian u32 words = one 192-bit integer). */
export const OID_BYTES = 24;
/** Alignment the guest-physical address of an object id must have. */
export const OID_ALIGN = 8;

export const PAGE_SHIFT = 12;
export const PAGE_BYTES = 1 << PAGE_SHIFT;
/** Pool ids live in the low 12 bits of pool_page; 0 is never a pool. */
export const MAX_POOL_ID = POOL_ID_MASK;

/** Pool flags word for a version and kind (what a guest passes to create). */
export function poolFlags(version: number, persistent: boolean): number {
  return ((version << POOL_FLAG.versionShift) | (persistent ? POOL_FLAG.persistent : 0)) >>> 0;
}

/** The 192-bit object id from `n` u32 words (least significant first). */
export function oidFromWords(words: readonly bigint[]): bigint {
  let oid = 0n;
  for (let i = words.length - 1; i >= 0; i--) oid = (oid << 32n) | (words[i]! & 0xffff_ffffn);
  return oid;
}

/** The u32 words of an object id (least significant first). */
export function oidToWords(oid: bigint, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => (oid >> BigInt(32 * i)) & 0xffff_ffffn);
}

/** The object id in OID_BYTES little-endian bytes (as a v1 guest keeps it in memory). */
export function oidFromBytes(bytes: Uint8Array): bigint {
  if (bytes.length !== OID_BYTES) throw new RangeError(`an object id is ${OID_BYTES} bytes, not ${bytes.length}`);
  let oid = 0n;
  for (let i = OID_BYTES - 1; i >= 0; i--) oid = (oid << 8n) | BigInt(bytes[i]!);
  return oid;
}

/** The OID_BYTES little-endian bytes of an object id (0 ≤ oid < 2^192). */
export function oidToBytes(oid: bigint): Uint8Array {
  if (oid < 0n || oid >> BigInt(8 * OID_BYTES) !== 0n) throw new RangeError('an object id is 0 ≤ id < 2^192');
  return Uint8Array.from({ length: OID_BYTES }, (_, i) => Number((oid >> BigInt(8 * i)) & 0xffn));
}

/**
 * The values of pool.stats, in order (then the number of pools): one domain's counters, or the
 * host's with domid 0. Cumulative except pages_held (pages held now).
 */
export const POOL_COUNTERS = [
  'puts',
  'gets',
  'hits',
  'misses',
  'evictions',
  'pages_held',
  'flushes',
  'refused',
] as const;
export type PoolCounterName = (typeof POOL_COUNTERS)[number];
export type PoolCounterValues = Record<PoolCounterName, number>;

/** Largest object id a version can name. */
export function maxOid(version: PoolVersion): bigint {
  return (1n << BigInt(32 * OID_WORDS[version])) - 1n;
}
