import type { Violation } from '../../errors.ts';

/** The 24-byte header, as read. */
export interface KvmStatsHeader {
  flags: number;
  nameSize: number;
  numDesc: number;
  idOffset: number;
  descOffset: number;
  dataOffset: number;
}

/** One descriptor, decoded. `type`, `unit` and `base` are the raw 4-bit fields (they may be unknown values). */
export interface KvmStatDescriptor {
  /** Position in the descriptor block. */
  index: number;
  name: string;
  /** The raw flags word. */
  flags: number;
  type: number;
  unit: number;
  base: number;
  exponent: number;
  /** Number of u64 items. */
  size: number;
  /** Byte offset of the first item inside the data block (a multiple of 8 in any accepted file). */
  offset: number;
  bucketSize: number;
  /** Index of the first item in the data block viewed as u64 words (offset / 8). */
  word: number;
}

/**
 * Everything that is read once per stats file: header, id and descriptors,
 * validated. Produced by `readLayout`; immutable afterwards.
 */
export interface KvmStatsLayout {
  header: KvmStatsHeader;
  id: string;
  descriptors: readonly KvmStatDescriptor[];
  /** Lookup by name; with duplicate names (a checker error) the first descriptor wins. */
  byName: ReadonlyMap<string, KvmStatDescriptor>;
  /** Bytes of the data block: the furthest end of any stat, a multiple of 8. */
  dataSize: number;
  /** Size of the whole source when it is known. */
  fileSize?: number;
  /** Copies of the metadata bytes exactly as first read, for the re-read comparison. */
  raw: { header: Uint8Array; id: Uint8Array; descriptors: Uint8Array };
  /** Problems that did not stop reading (unknown enum values, exponent signs, …); empty for a clean file. */
  violations: readonly Violation[];
}
