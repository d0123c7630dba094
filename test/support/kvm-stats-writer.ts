/**
 * A kernel-exact writer of KVM stats files, for the tests: it makes the valid files (and, with
 * the crafter in test/kvm-stats/fixtures.ts, the broken ones) the reader, checker and describer
 * are tested against. hvkit itself never writes this format; it lives with test support.
 *
 * Kernel conventions followed: header at 0 (24 bytes), id block of name_size
 * bytes at 24, descriptors (16 + name_size bytes each) right after the id
 * block, data right after the descriptors, stats packed in definition order.
 * name_size is a multiple of 8 (48 by default, like the kernel), which keeps
 * every block and every u64 8-byte aligned.
 *
 * The writer refuses anything the checker would report as an error: the
 * built metadata is run through the same rules before it is accepted.
 */
import { FormatError } from '../../src/errors.ts';
import {
  DESC_FIXED_SIZE,
  DescField,
  FORMAT,
  HEADER_SIZE,
  HeaderField,
  KERNEL_NAME_SIZE,
  LIMITS,
  packFlags,
  StatBase,
  type StatType,
  StatUnit,
  WORD_SIZE,
} from '../../src/formats/kvm-stats/constants.ts';
import { inspectMetadata } from '../../src/formats/kvm-stats/inspect.ts';
import { bufferSource, type StatsSource } from '../../src/formats/kvm-stats/source.ts';
import type { KvmStatDescriptor, KvmStatsLayout } from '../../src/formats/kvm-stats/types.ts';

export interface KvmStatDefinition {
  name: string;
  type: StatType;
  /** Default: none. */
  unit?: StatUnit;
  /** Default: pow10. */
  base?: StatBase;
  /** Default: 0. */
  exponent?: number;
  /** Number of u64 items; default 1 (histograms must say how many buckets). */
  size?: number;
  /** Linear histograms only. */
  bucketSize?: number;
}

export type StatValue = bigint | number | readonly (bigint | number)[];

export interface KvmStatsWriterOptions {
  /** Bytes per id / name including the NUL; a multiple of 8. Default: 48, or more if a name needs it. */
  nameSize?: number;
}

const U64_MAX = (1n << 64n) - 1n;

export class KvmStatsWriter implements StatsSource {
  /** The whole file; the data block is updated in place by `set`. */
  readonly bytes: Uint8Array;
  readonly layout: KvmStatsLayout;
  /** The data block as u64 words, a view into `bytes`. */
  private readonly words: BigUint64Array;

  constructor(id: string, stats: readonly KvmStatDefinition[], options: KvmStatsWriterOptions = {}) {
    requireLatin1('id', id);
    stats.forEach((s, i) => {
      requireLatin1(`stats[${i}].name`, s.name);
    });
    const nameSize = pickNameSize(id, stats, options.nameSize);
    const stride = DESC_FIXED_SIZE + nameSize;
    const idOffset = HEADER_SIZE;
    const descOffset = idOffset + nameSize;
    const dataOffset = descOffset + stats.length * stride;
    const sizes = stats.map((s, i) => checkedInt(`stats[${i}].size`, s.size ?? 1, 0, 0xffff));
    const dataWords = sizes.reduce((a, b) => a + b, 0);
    if (stats.length > LIMITS.maxDescriptors || dataWords * WORD_SIZE > LIMITS.maxDataBytes) {
      throw new FormatError(
        FORMAT,
        'stats',
        'too-large',
        'too many stats or data items for the format limits',
        String(stats.length),
      );
    }

    const buffer = new ArrayBuffer(dataOffset + dataWords * WORD_SIZE);
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    view.setUint32(HeaderField.flags, 0, true);
    view.setUint32(HeaderField.name_size, nameSize, true);
    view.setUint32(HeaderField.num_desc, stats.length, true);
    view.setUint32(HeaderField.id_offset, idOffset, true);
    view.setUint32(HeaderField.desc_offset, descOffset, true);
    view.setUint32(HeaderField.data_offset, dataOffset, true);
    writeLatin1(bytes, idOffset, id);

    let offset = 0;
    stats.forEach((s, i) => {
      const at = descOffset + i * stride;
      const p = `stats[${i}]`;
      const flags = packFlags(
        checkedInt(`${p}.type`, s.type, 0, 15),
        checkedInt(`${p}.unit`, s.unit ?? StatUnit.None, 0, 15),
        checkedInt(`${p}.base`, s.base ?? StatBase.Pow10, 0, 15),
      );
      view.setUint32(at + DescField.flags, flags, true);
      view.setInt16(at + DescField.exponent, checkedInt(`${p}.exponent`, s.exponent ?? 0, -0x8000, 0x7fff), true);
      view.setUint16(at + DescField.size, sizes[i]!, true);
      view.setUint32(at + DescField.offset, offset, true);
      view.setUint32(at + DescField.bucket_size, checkedInt(`${p}.bucketSize`, s.bucketSize ?? 0, 0, 0xffffffff), true);
      writeLatin1(bytes, at + DescField.name, s.name);
      offset += sizes[i]! * WORD_SIZE;
    });

    const { findings, layout } = inspectMetadata(bufferSource(bytes));
    const bad = findings.find((x) => x.severity === 'error');
    if (bad || !layout) {
      const field = bad ? bad.field.replace(/^desc\[/, 'stats[') : 'stats';
      throw new FormatError(
        FORMAT,
        field,
        bad?.rule ?? 'invalid',
        bad?.message ?? 'definitions do not form a valid file',
        bad?.value,
      );
    }
    this.bytes = bytes;
    this.layout = layout;
    // A native-order view: hvkit runs on little-endian hosts, whose order the format uses.
    this.words = new BigUint64Array(buffer, dataOffset, dataWords);
  }

  get size(): number {
    return this.bytes.length;
  }

  /** pread over the current file contents, like the kernel's stats fd. */
  read(buf: Uint8Array, position: number): number {
    if (!(position >= 0) || position >= this.bytes.length) return 0;
    const n = Math.min(buf.length, this.bytes.length - position);
    buf.set(this.bytes.subarray(position, position + n));
    return n;
  }

  /** Sets a scalar, or every bucket of a histogram (the array length must equal the stat's size). */
  set(name: string, value: StatValue): void {
    const d = this.layout.byName.get(name);
    if (!d) throw new RangeError(`no stat named "${name}"`);
    this.setDescriptor(d, value);
  }

  /** Sets one item of a stat (a histogram bucket). */
  setItem(name: string, item: number, value: bigint | number): void {
    const d = this.layout.byName.get(name);
    if (!d) throw new RangeError(`no stat named "${name}"`);
    if (!Number.isInteger(item) || item < 0 || item >= d.size) throw new RangeError(`"${name}" has no item ${item}`);
    this.words[d.word + item] = toU64(`${name}[${item}]`, value);
  }

  private setDescriptor(d: KvmStatDescriptor, value: StatValue) {
    if (typeof value === 'bigint' || typeof value === 'number') {
      if (d.size !== 1) throw new RangeError(`"${d.name}" has ${d.size} items; pass an array`);
      this.words[d.word] = toU64(d.name, value);
      return;
    }
    if (value.length !== d.size) throw new RangeError(`"${d.name}" has ${d.size} items, got ${value.length}`);
    for (let i = 0; i < value.length; i++) this.words[d.word + i] = toU64(`${d.name}[${i}]`, value[i]!);
  }
}

/** One-shot: build a file from definitions and their values (missing values are 0). */
export function writeKvmStats(
  id: string,
  stats: readonly (KvmStatDefinition & { value?: StatValue })[],
  options?: KvmStatsWriterOptions,
): Uint8Array {
  const w = new KvmStatsWriter(id, stats, options);
  for (const s of stats) if (s.value !== undefined) w.set(s.name, s.value);
  return w.bytes;
}

function pickNameSize(id: string, stats: readonly KvmStatDefinition[], requested: number | undefined): number {
  const longest = stats.reduce((m, s) => Math.max(m, s.name.length), id.length);
  if (requested === undefined) return Math.max(KERNEL_NAME_SIZE, Math.ceil((longest + 1) / WORD_SIZE) * WORD_SIZE);
  checkedInt('header.name_size', requested, 1, LIMITS.maxNameSize);
  if (requested % WORD_SIZE !== 0) {
    throw new FormatError(
      FORMAT,
      'header.name_size',
      'unaligned',
      'name_size must be a multiple of 8',
      String(requested),
    );
  }
  if (requested < longest + 1) {
    throw new FormatError(
      FORMAT,
      'header.name_size',
      'too-small',
      `the longest id/name needs ${longest + 1} bytes`,
      String(requested),
    );
  }
  return requested;
}

function checkedInt(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new FormatError(FORMAT, field, 'out-of-range', `must be an integer in [${min}, ${max}]`, String(v));
  }
  return v;
}

function requireLatin1(field: string, s: string) {
  if (s.length > LIMITS.maxNameSize)
    throw new FormatError(FORMAT, field, 'too-long', 'string is longer than any name_size allows', String(s.length));
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0xff)
      throw new FormatError(
        FORMAT,
        field,
        'invalid-char',
        'only non-NUL single-byte characters can be stored',
        JSON.stringify(s),
      );
  }
}

function writeLatin1(bytes: Uint8Array, at: number, s: string) {
  for (let i = 0; i < s.length; i++) bytes[at + i] = s.charCodeAt(i);
}

function toU64(field: string, v: bigint | number): bigint {
  const b = typeof v === 'number' ? (Number.isSafeInteger(v) ? BigInt(v) : -1n) : v;
  if (b < 0n || b > U64_MAX)
    throw new FormatError(FORMAT, field, 'out-of-range', 'a value must be an integer in [0, 2^64)', String(v));
  return b;
}
