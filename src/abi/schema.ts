/**
 * The hvkit schema language: how an ABI is written down once.
 *
 * An ABI is plain data (an AbiSpec) built with the small helpers below. The
 * layout engine (layout.ts) turns it into a ResolvedAbi with every offset,
 * size and stride computed; that resolved form is what gets frozen per
 * revision, compared by the compatibility checker, and fed to the generators
 * and to the generic readers.
 */

export type IntType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64';

export const INT_TYPES: readonly IntType[] = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64'];

export function intWidth(type: IntType): 1 | 2 | 4 | 8 {
  switch (type) {
    case 'u8':
    case 's8':
      return 1;
    case 'u16':
    case 's16':
      return 2;
    case 'u32':
    case 's32':
      return 4;
    default:
      return 8;
  }
}

export function isSigned(type: IntType): boolean {
  return type.startsWith('s');
}

export type StatType = 'cumulative' | 'instant' | 'peak' | 'linear-hist' | 'log-hist';
export type StatUnit = 'none' | 'bytes' | 'seconds' | 'cycles' | 'boolean';
export type StatBase = 'pow10' | 'pow2';

/** How a counter is to be read: the same vocabulary as the kernel's binary stats. */
export interface StatSpec {
  type: StatType;
  unit: StatUnit;
  base?: StatBase;
  /** Value × base^exponent is the quantity in the unit (e.g. -9 for nanoseconds). */
  exponent?: number;
  /** Width of each bucket of a linear histogram. */
  bucketSize?: number;
}

interface FieldCommon {
  name: string;
  doc: string;
  /** Earlier names of this field; a rename is accepted with a warning. */
  renamedFrom?: string[];
}

/** A fixed-width integer, optionally an enum/flags value, a layout word or a statistic. */
export interface IntFieldSpec extends FieldCommon {
  kind: 'int';
  type: IntType;
  /**
   * The value that means "the behaviour before this field existed". Older producers
   * write zero (reserved bytes are zero), so a field added later must declare 0 here.
   */
  default?: number | bigint;
  enum?: string;
  flags?: string;
  stat?: StatSpec;
  /** Counters in-band inactive when all ones. */
  inactiveWhenAllOnes?: boolean;
}

/** A fixed-length array of integers (histogram buckets, per-port counters …). */
export interface ArrayFieldSpec extends FieldCommon {
  kind: 'array';
  type: IntType;
  length: number;
  stat?: StatSpec;
  inactiveWhenAllOnes?: boolean;
}

/** A fixed-length, NUL-padded character array. */
export interface CharFieldSpec extends FieldCommon {
  kind: 'char';
  length: number;
}

/** Bytes that must be zero; later revisions may carve fields out of them. */
export interface ReservedFieldSpec extends Omit<FieldCommon, 'renamedFrom'> {
  kind: 'reserved';
  size: number;
}

/** A magic number: the value of a named constant, checked by readers. */
export interface MagicFieldSpec extends FieldCommon {
  kind: 'magic';
  type: IntType;
  constant: string;
}

/** A sequence (seqlock) or state word: concurrency-relevant, it may never move or resize. */
export interface SeqFieldSpec extends FieldCommon {
  kind: 'seq';
  type: 'u32' | 'u64';
}

/** A nested struct, or an array of them; a `group` is a struct with its own sequence word. */
export interface StructFieldSpec extends FieldCommon {
  kind: 'struct';
  struct: string;
  length?: number;
  /** When the nested struct is a stats group: its bit in the parent's active-groups word. */
  group?: { bit: number };
}

/** A tombstone: a field that was removed keeps its bytes and its name stays retired. */
export interface RetiredFieldSpec extends Omit<FieldCommon, 'renamedFrom'> {
  kind: 'retired';
  size: number;
  align?: number;
}

export type FieldSpec =
  | IntFieldSpec
  | ArrayFieldSpec
  | CharFieldSpec
  | ReservedFieldSpec
  | MagicFieldSpec
  | SeqFieldSpec
  | StructFieldSpec
  | RetiredFieldSpec;

/**
 * `fixed`: the size itself is ABI (an element of a fixed-stride array, a header
 * whose size nobody records) — it may never change.
 * `versioned`: the producer records the size it wrote, so fields may be appended at the tail.
 */
export type Sizing = 'fixed' | 'versioned';

export interface StructSpec {
  name: string;
  doc: string;
  sizing: Sizing;
  /** Minimum alignment of the struct (e.g. 64 to keep groups on their own cache line). */
  align?: number;
  /** Round the size up to a multiple of this (e.g. 64 or 4096). */
  sizeRound?: number;
  /** For a stats group: the name of its sequence word field. */
  seqField?: string;
  fields: FieldSpec[];
}

export interface EnumValueSpec {
  name: string;
  /** The numeric value (enum) or the bit number (flags). */
  value: number;
  doc: string;
  /** A retired value keeps its number forever; it can never be given to another name. */
  retired?: boolean;
}

export interface EnumSpec {
  name: string;
  doc: string;
  kind: 'enum' | 'flags';
  type: IntType;
  values: EnumValueSpec[];
}

export interface ConstantSpec {
  name: string;
  doc: string;
  type: IntType;
  value: number | bigint;
  /** Magics identify the ABI: changing one is a break unless the major changes. */
  kind: 'magic' | 'const';
}

/** A record of a type-length-value stream. */
export interface RecordSpec {
  name: string;
  doc: string;
  type: number;
  /** Unknown mandatory records make a reader refuse the stream; optional ones are skipped. */
  mandatory: boolean;
  struct: string;
  retired?: boolean;
}

export interface AbiSpec {
  /** The ABI's identity (kebab-case); never changes. */
  name: string;
  doc: string;
  /** Bumped only for a deliberate break; revisions of other majors are not compared. */
  major: number;
  /**
   * The first revision frozen under this major: revisions before it belong to older majors and
   * are not compared. Absent means 1 (the ABI never broke). Set it when bumping the major, to
   * the revision the next freeze will write; lock files must agree with it, so a hand-edited
   * major cannot take a revision out of the compatibility check.
   */
  majorSince?: number;
  constants?: ConstantSpec[];
  enums?: EnumSpec[];
  structs: StructSpec[];
  records?: RecordSpec[];
}

// ---- helpers to write schemas compactly ----------------------------------------------------

type Opt<T> = Omit<T, 'kind' | 'name' | 'doc' | 'type'>;

export function int(name: string, type: IntType, doc: string, opts: Opt<IntFieldSpec> = {}): IntFieldSpec {
  return { kind: 'int', name, type, doc, ...opts };
}

export function array(
  name: string,
  type: IntType,
  length: number,
  doc: string,
  opts: Omit<Opt<ArrayFieldSpec>, 'length'> = {},
): ArrayFieldSpec {
  return { kind: 'array', name, type, length, doc, ...opts };
}

export function chars(name: string, length: number, doc: string): CharFieldSpec {
  return { kind: 'char', name, length, doc };
}

export function reserved(name: string, size: number, doc = 'Reserved, must be zero.'): ReservedFieldSpec {
  return { kind: 'reserved', name, size, doc };
}

export function magic(name: string, type: IntType, constant: string, doc: string): MagicFieldSpec {
  return { kind: 'magic', name, type, constant, doc };
}

export function seq(name: string, type: 'u32' | 'u64', doc: string): SeqFieldSpec {
  return { kind: 'seq', name, type, doc };
}

export function nested(name: string, struct: string, doc: string, opts: Omit<Opt<StructFieldSpec>, 'struct'> = {}) {
  return { kind: 'struct', name, struct, doc, ...opts } satisfies StructFieldSpec;
}

export function retired(name: string, size: number, doc: string, align = 1): RetiredFieldSpec {
  return { kind: 'retired', name, size, align, doc };
}

/** A counter statistic: a u64 that only grows. */
export function counter(name: string, doc: string, stat: Partial<StatSpec> = {}): IntFieldSpec {
  return int(name, 'u64', doc, {
    stat: { type: 'cumulative', unit: 'none', base: 'pow10', exponent: 0, ...stat },
    inactiveWhenAllOnes: true,
  });
}

export function defineAbi(spec: AbiSpec): AbiSpec {
  return spec;
}
