/**
 * The resolved form of an ABI: every offset, size and alignment computed.
 *
 * This is exactly what a lock file freezes for one revision, so it must stay
 * plain JSON (numbers that fit in 2^53, big values as decimal strings) and
 * must carry everything the checker, the generators and the generic readers
 * need without looking at the schema source again.
 */
import type { IntType, Sizing, StatSpec } from './schema.ts';

export type ResolvedFieldKind = 'int' | 'array' | 'char' | 'reserved' | 'magic' | 'seq' | 'struct' | 'retired' | 'pad';

export interface ResolvedField {
  name: string;
  kind: ResolvedFieldKind;
  offset: number;
  /** Total bytes the field occupies (element size × count). */
  size: number;
  align: number;
  /** Element integer type for int, array, magic and seq fields. */
  type?: IntType;
  /** Element struct name for struct fields. */
  struct?: string;
  /** Number of elements: 1 for scalars. */
  count: number;
  doc: string;
  /** Value meaning "the old behaviour", as a decimal string (bigint-safe). */
  default?: string;
  enum?: string;
  flags?: string;
  constant?: string;
  stat?: Required<Omit<StatSpec, 'bucketSize'>> & { bucketSize?: number };
  inactiveWhenAllOnes?: boolean;
  group?: { bit: number };
  renamedFrom?: string[];
}

export interface ResolvedStruct {
  name: string;
  doc: string;
  size: number;
  align: number;
  sizing: Sizing;
  seqField?: string;
  fields: ResolvedField[];
}

export interface ResolvedEnumValue {
  name: string;
  value: number;
  doc: string;
  retired: boolean;
}

export interface ResolvedEnum {
  name: string;
  doc: string;
  kind: 'enum' | 'flags';
  type: IntType;
  values: ResolvedEnumValue[];
}

export interface ResolvedConstant {
  name: string;
  doc: string;
  type: IntType;
  /** Decimal string, so 64-bit values stay exact in JSON. */
  value: string;
  kind: 'magic' | 'const';
}

export interface ResolvedRecord {
  name: string;
  doc: string;
  type: number;
  mandatory: boolean;
  struct: string;
  retired: boolean;
}

export const LOCK_FORMAT = 'hvkit-abi-lock';
export const LOCK_FORMAT_VERSION = 1;
/** Majors start at 1 (an ABI that never broke); a lock or schema with another major is refused. */
export const MIN_MAJOR = 1;
export const MAX_MAJOR = 0xffff;
/**
 * How deep structs may nest (a struct holding a struct … counts each level, a struct of plain
 * fields is depth 1). Lock files and schemas deeper than this are refused when read, so every
 * later walk over nested structs (codecs, generators, the checker) recurses a bounded amount.
 */
export const MAX_STRUCT_NESTING = 16;

export interface ResolvedAbi {
  format: typeof LOCK_FORMAT;
  formatVersion: typeof LOCK_FORMAT_VERSION;
  abi: string;
  doc: string;
  major: number;
  /** 0 for the working (unfrozen) schema, N ≥ 1 for a frozen revision. */
  revision: number;
  constants: ResolvedConstant[];
  enums: ResolvedEnum[];
  structs: ResolvedStruct[];
  records: ResolvedRecord[];
}

export function findStruct(abi: ResolvedAbi, name: string): ResolvedStruct | undefined {
  return abi.structs.find((s) => s.name === name);
}

export function findField(struct: ResolvedStruct, name: string): ResolvedField | undefined {
  return struct.fields.find((f) => f.name === name);
}

export function findConstant(abi: ResolvedAbi, name: string): ResolvedConstant | undefined {
  return abi.constants.find((c) => c.name === name);
}
