/**
 * Constants of the KVM binary statistics format (KVM_GET_STATS_FD, Linux ≥ 5.14).
 *
 * File layout: a 24-byte header, an id string block, a descriptor block and a
 * data block, each located by an offset in the header. All integers are in the
 * byte order of the kernel that serves them; hvkit reads and writes them
 * little-endian (x86-64, arm64).
 */

/** Name used as `format` in every FormatError raised for this format. */
export const FORMAT = 'kvm-stats';

/** struct kvm_stats_header: flags, name_size, num_desc, id_offset, desc_offset, data_offset (u32 each). */
export const HEADER_SIZE = 24;
/** Fixed part of struct kvm_stats_desc, before the name: flags u32, exponent s16, size u16, offset u32, bucket_size u32. */
export const DESC_FIXED_SIZE = 16;
/** Every data item is a u64. */
export const WORD_SIZE = 8;
/** Name block size the kernel uses (KVM_STATS_NAME_SIZE) and hvkit's writer picks by default. */
export const KERNEL_NAME_SIZE = 48;

export const HeaderField = {
  flags: 0,
  name_size: 4,
  num_desc: 8,
  id_offset: 12,
  desc_offset: 16,
  data_offset: 20,
} as const;
export type HeaderFieldName = keyof typeof HeaderField;

export const DescField = { flags: 0, exponent: 4, size: 6, offset: 8, bucket_size: 12, name: 16 } as const;

export const TYPE_SHIFT = 0;
export const UNIT_SHIFT = 4;
export const BASE_SHIFT = 8;
export const FIELD_MASK = 0xf;
/** Bits 12..31 of a descriptor's flags are not defined and must be zero. */
export const RESERVED_FLAGS_MASK = 0xfffff000;

export enum StatType {
  Cumulative = 0,
  Instant = 1,
  Peak = 2,
  LinearHist = 3,
  LogHist = 4,
}
export const STAT_TYPE_MAX = StatType.LogHist;

export enum StatUnit {
  None = 0,
  Bytes = 1,
  Seconds = 2,
  Cycles = 3,
  Boolean = 4,
}
export const STAT_UNIT_MAX = StatUnit.Boolean;

export enum StatBase {
  Pow10 = 0,
  Pow2 = 1,
}
export const STAT_BASE_MAX = StatBase.Pow2;

export const TYPE_NAMES = ['cumulative', 'instant', 'peak', 'linear-hist', 'log-hist'] as const;
export const UNIT_NAMES = ['none', 'bytes', 'seconds', 'cycles', 'boolean'] as const;
export const BASE_NAMES = ['pow10', 'pow2'] as const;
export type StatTypeName = (typeof TYPE_NAMES)[number];
export type StatUnitName = (typeof UNIT_NAMES)[number];
export type StatBaseName = (typeof BASE_NAMES)[number];

export function typeName(type: number): StatTypeName | `unknown-${number}` {
  return TYPE_NAMES[type] ?? `unknown-${type}`;
}
export function unitName(unit: number): StatUnitName | `unknown-${number}` {
  return UNIT_NAMES[unit] ?? `unknown-${unit}`;
}
export function baseName(base: number): StatBaseName | `unknown-${number}` {
  return BASE_NAMES[base] ?? `unknown-${base}`;
}

export function isHistogram(type: number): boolean {
  return type === StatType.LinearHist || type === StatType.LogHist;
}

/** Types whose value may only grow while the stats file lives (a drop is reported as a reset). */
export function isMonotonic(type: number): boolean {
  return type === StatType.Cumulative || type === StatType.Peak || isHistogram(type);
}

export function packFlags(type: number, unit: number, base: number): number {
  return ((type << TYPE_SHIFT) | (unit << UNIT_SHIFT) | (base << BASE_SHIFT)) >>> 0;
}

/**
 * Sanity limits. Every size read from a file is checked against these (and
 * against the file size when the source knows it) before anything is
 * allocated. The kernel today serves name_size 48, under 100 descriptors and a
 * few KiB of data; the limits leave generous room for growth.
 */
export const LIMITS = {
  /** Largest accepted name_size (bytes per id / descriptor name, NUL included). */
  maxNameSize: 4096,
  /** Largest accepted num_desc. */
  maxDescriptors: 65536,
  /** Largest accepted descriptor block, in bytes. */
  maxDescriptorBytes: 16 * 1024 * 1024,
  /** Largest accepted data block, in bytes. */
  maxDataBytes: 16 * 1024 * 1024,
} as const;
