/**
 * Reads and judges the metadata of a stats file (header, id, descriptors)
 * without throwing. Every rule lives here once; the reader throws the first
 * finding marked fatal, the checker reports them all.
 *
 * A finding is fatal when reading past it would be unsafe or meaningless
 * (truncation, sizes over the limits, blocks outside the file or on top of
 * each other, unterminated strings, unaligned data items). Everything else —
 * unknown types/units/bases, exponent signs, duplicate names — is an error or
 * warning for the checker but does not stop a reader, so that a newer kernel's
 * additions can still be displayed.
 */
import type { Severity, Violation } from '../../errors.ts';
import {
  DESC_FIXED_SIZE,
  DescField,
  HEADER_SIZE,
  HeaderField,
  isHistogram,
  LIMITS,
  RESERVED_FLAGS_MASK,
  STAT_BASE_MAX,
  STAT_TYPE_MAX,
  STAT_UNIT_MAX,
  StatType,
  StatUnit,
  WORD_SIZE,
} from './constants.ts';
import { knownSize, readBlock, readFully, type StatsSource } from './source.ts';
import type { KvmStatDescriptor, KvmStatsHeader, KvmStatsLayout } from './types.ts';

export interface Finding extends Violation {
  /** The reader cannot go on past this finding. */
  fatal: boolean;
}

export interface Inspection {
  findings: Finding[];
  /** Present when no finding is fatal. */
  layout?: KvmStatsLayout;
}

class Findings {
  readonly list: Finding[] = [];
  add(severity: Severity, fatal: boolean, field: string, rule: string, message: string, value?: number | string) {
    this.list.push({ field, rule, severity, fatal, message, value: value === undefined ? undefined : String(value) });
  }
  fatal(field: string, rule: string, message: string, value?: number | string) {
    this.add('error', true, field, rule, message, value);
  }
  error(field: string, rule: string, message: string, value?: number | string) {
    this.add('error', false, field, rule, message, value);
  }
  warning(field: string, rule: string, message: string, value?: number | string) {
    this.add('warning', false, field, rule, message, value);
  }
  get hasFatal(): boolean {
    return this.list.some((f) => f.fatal);
  }
}

export function decodeHeader(bytes: Uint8Array): KvmStatsHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    flags: v.getUint32(HeaderField.flags, true),
    nameSize: v.getUint32(HeaderField.name_size, true),
    numDesc: v.getUint32(HeaderField.num_desc, true),
    idOffset: v.getUint32(HeaderField.id_offset, true),
    descOffset: v.getUint32(HeaderField.desc_offset, true),
    dataOffset: v.getUint32(HeaderField.data_offset, true),
  };
}

/** Decodes bytes up to the first NUL as Latin-1 (one char per byte); undefined when there is no NUL. */
export function cString(bytes: Uint8Array): string | undefined {
  const end = bytes.indexOf(0);
  if (end < 0) return undefined;
  let s = '';
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function printable(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

interface Block {
  name: string;
  field: string;
  start: number;
  end: number;
}

export function inspectMetadata(source: StatsSource): Inspection {
  const f = new Findings();
  const fileSize = knownSize(source);

  if (fileSize !== undefined && fileSize < HEADER_SIZE) {
    f.fatal('header', 'truncated', `file has ${fileSize} bytes, fewer than the ${HEADER_SIZE}-byte header`, fileSize);
    return { findings: f.list };
  }
  const headerBytes = new Uint8Array(HEADER_SIZE);
  const got = readFully(source, headerBytes, 0);
  if (got < HEADER_SIZE) {
    f.fatal('header', 'truncated', `file ends after ${got} of the header's ${HEADER_SIZE} bytes`, got);
    return { findings: f.list };
  }
  const header = decodeHeader(headerBytes);
  const { nameSize, numDesc, idOffset, descOffset, dataOffset } = header;

  if (header.flags !== 0)
    f.warning('header.flags', 'unknown-flags', 'header flags are not defined and read as 0', hex(header.flags));

  let nameSizeOk = true;
  if (nameSize === 0) {
    f.fatal('header.name_size', 'zero', 'name_size must leave room for at least the terminating NUL', nameSize);
    nameSizeOk = false;
  } else if (nameSize > LIMITS.maxNameSize) {
    f.fatal('header.name_size', 'too-large', `name_size exceeds the limit of ${LIMITS.maxNameSize} bytes`, nameSize);
    nameSizeOk = false;
  } else if (nameSize % WORD_SIZE !== 0) {
    f.warning(
      'header.name_size',
      'unaligned',
      'name_size is not a multiple of 8, so descriptors are not 8-byte aligned',
      nameSize,
    );
  }
  let numDescOk = true;
  if (numDesc > LIMITS.maxDescriptors) {
    f.fatal('header.num_desc', 'too-large', `num_desc exceeds the limit of ${LIMITS.maxDescriptors}`, numDesc);
    numDescOk = false;
  }
  const offsetsOk = { id_offset: true, desc_offset: true, data_offset: true };
  for (const key of ['id_offset', 'desc_offset', 'data_offset'] as const) {
    const value = key === 'id_offset' ? idOffset : key === 'desc_offset' ? descOffset : dataOffset;
    if (value < HEADER_SIZE) {
      f.fatal(`header.${key}`, 'inside-header', `${key} points inside the ${HEADER_SIZE}-byte header`, value);
      offsetsOk[key] = false;
    } else if (value % WORD_SIZE !== 0) {
      f.error(`header.${key}`, 'unaligned', `${key} is not a multiple of 8`, value);
    }
  }

  // id block: name_size bytes at id_offset.
  let id: string | undefined;
  let idBytes: Uint8Array | undefined;
  if (nameSizeOk && offsetsOk.id_offset) {
    if (fileSize !== undefined && idOffset + nameSize > fileSize) {
      f.fatal(
        'header.id_offset',
        'past-end',
        `id block [${idOffset}, ${idOffset + nameSize}) ends past the file (${fileSize} bytes)`,
        idOffset,
      );
    } else {
      idBytes = new Uint8Array(nameSize);
      const n = readFully(source, idBytes, idOffset);
      if (n < nameSize) {
        f.fatal('id', 'truncated', `file ends after ${n} of the id block's ${nameSize} bytes`, n);
        idBytes = undefined;
      } else {
        id = cString(idBytes);
        if (id === undefined) f.fatal('id', 'not-terminated', `id has no NUL within name_size (${nameSize}) bytes`);
        else checkId(f, id);
      }
    }
  }

  // Descriptor block: num_desc entries of 16 + name_size bytes at desc_offset.
  const stride = DESC_FIXED_SIZE + nameSize;
  const descBytesLength = numDesc * stride; // ≤ 65536 × 4112 after the checks above: exact
  let descriptors: KvmStatDescriptor[] | undefined;
  let descBytes: Uint8Array | undefined;
  if (nameSizeOk && numDescOk && offsetsOk.desc_offset) {
    if (descBytesLength > LIMITS.maxDescriptorBytes) {
      f.fatal(
        'header.num_desc',
        'too-large',
        `descriptor block of ${descBytesLength} bytes exceeds the limit of ${LIMITS.maxDescriptorBytes}`,
        numDesc,
      );
    } else if (fileSize !== undefined && descOffset + descBytesLength > fileSize) {
      f.fatal(
        'header.desc_offset',
        'past-end',
        `descriptor block [${descOffset}, ${descOffset + descBytesLength}) ends past the file (${fileSize} bytes)`,
        descOffset,
      );
    } else {
      const block = readBlock(source, descOffset, descBytesLength);
      if (typeof block === 'number') {
        f.fatal(
          'descriptors',
          'truncated',
          `file ends after ${block} of the descriptor block's ${descBytesLength} bytes`,
          block,
        );
      } else {
        descBytes = block;
        descriptors = decodeDescriptors(f, descBytes, numDesc, nameSize);
      }
    }
  }

  // Data block: its extent is the furthest end of any stat.
  let dataSize = 0;
  if (descriptors) {
    dataSize = checkDataRanges(f, descriptors, dataOffset, offsetsOk.data_offset ? fileSize : undefined);
  }

  // Without a known size, prove the data block's last word exists before anyone allocates the block.
  if (descriptors && fileSize === undefined && offsetsOk.data_offset && dataSize > 0 && !f.hasFatal) {
    const n = readFully(source, new Uint8Array(WORD_SIZE), dataOffset + dataSize - WORD_SIZE);
    if (n < WORD_SIZE) f.fatal('data', 'truncated', `file ends before the end of the ${dataSize}-byte data block`);
  }

  const blocks: Block[] = [];
  if (offsetsOk.id_offset && nameSizeOk)
    blocks.push({ name: 'id', field: 'header.id_offset', start: idOffset, end: idOffset + nameSize });
  if (offsetsOk.desc_offset && descriptors)
    blocks.push({
      name: 'descriptor',
      field: 'header.desc_offset',
      start: descOffset,
      end: descOffset + descBytesLength,
    });
  if (offsetsOk.data_offset && descriptors)
    blocks.push({ name: 'data', field: 'header.data_offset', start: dataOffset, end: dataOffset + dataSize });
  checkBlockOverlap(f, blocks);

  if (f.hasFatal || id === undefined || idBytes === undefined || descriptors === undefined || descBytes === undefined) {
    return { findings: f.list };
  }
  const byName = new Map<string, KvmStatDescriptor>();
  for (const d of descriptors) if (!byName.has(d.name)) byName.set(d.name, d);
  const violations = f.list.map(({ fatal: _fatal, ...v }) => v);
  const layout: KvmStatsLayout = {
    header,
    id,
    descriptors,
    byName,
    dataSize,
    raw: { header: headerBytes, id: idBytes, descriptors: descBytes },
    violations,
  };
  if (fileSize !== undefined) layout.fileSize = fileSize;
  return { findings: f.list, layout };
}

function checkId(f: Findings, id: string) {
  if (!id.startsWith('kvm'))
    f.warning('id', 'id-prefix', 'id does not start with "kvm" as the kernel selftest expects', id);
  if (!printable(id)) f.warning('id', 'not-printable', 'id contains control or non-ASCII bytes');
}

function decodeDescriptors(
  f: Findings,
  bytes: Uint8Array,
  numDesc: number,
  nameSize: number,
): KvmStatDescriptor[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stride = DESC_FIXED_SIZE + nameSize;
  const out: KvmStatDescriptor[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  for (let i = 0; i < numDesc; i++) {
    const at = i * stride;
    const p = `desc[${i}]`;
    const flags = view.getUint32(at + DescField.flags, true);
    const exponent = view.getInt16(at + DescField.exponent, true);
    const size = view.getUint16(at + DescField.size, true);
    const offset = view.getUint32(at + DescField.offset, true);
    const bucketSize = view.getUint32(at + DescField.bucket_size, true);
    const name = cString(bytes.subarray(at + DescField.name, at + stride));
    if (name === undefined) {
      f.fatal(`${p}.name`, 'not-terminated', `name has no NUL within name_size (${nameSize}) bytes`);
      ok = false;
      continue;
    }
    const d: KvmStatDescriptor = {
      index: i,
      name,
      flags,
      type: flags & 0xf,
      unit: (flags >>> 4) & 0xf,
      base: (flags >>> 8) & 0xf,
      exponent,
      size,
      offset,
      bucketSize,
      word: Math.floor(offset / WORD_SIZE),
    };
    checkDescriptor(f, d, seen);
    out.push(d);
  }
  return ok ? out : undefined;
}

function checkDescriptor(f: Findings, d: KvmStatDescriptor, seen: Map<string, number>) {
  const p = `desc[${d.index}]`;
  const who = d.name === '' ? `descriptor ${d.index}` : `"${d.name}"`;
  if (d.name === '') f.error(`${p}.name`, 'empty', 'stat name is empty');
  else if (seen.has(d.name)) f.error(`${p}.name`, 'duplicate', `name also used by desc[${seen.get(d.name)}]`, d.name);
  else seen.set(d.name, d.index);
  if (!printable(d.name)) f.warning(`${p}.name`, 'not-printable', `${who}: name contains control or non-ASCII bytes`);

  if (d.type > STAT_TYPE_MAX)
    f.error(`${p}.flags`, 'unknown-type', `${who}: type ${d.type} is not defined`, hex(d.flags));
  if (d.unit > STAT_UNIT_MAX)
    f.error(`${p}.flags`, 'unknown-unit', `${who}: unit ${d.unit} is not defined`, hex(d.flags));
  if (d.base > STAT_BASE_MAX)
    f.error(`${p}.flags`, 'unknown-base', `${who}: base ${d.base} is not defined`, hex(d.flags));
  if ((d.flags & RESERVED_FLAGS_MASK) !== 0)
    f.error(`${p}.flags`, 'reserved-bits', `${who}: flag bits 12-31 must be zero`, hex(d.flags));

  switch (d.unit) {
    case StatUnit.None:
    case StatUnit.Bytes:
    case StatUnit.Cycles:
      if (d.exponent < 0)
        f.error(`${p}.exponent`, 'exponent-sign', `${who}: exponent must be >= 0 for this unit`, d.exponent);
      break;
    case StatUnit.Seconds:
      if (d.exponent > 0)
        f.error(`${p}.exponent`, 'exponent-sign', `${who}: exponent must be <= 0 for seconds`, d.exponent);
      break;
    case StatUnit.Boolean:
      if (d.exponent !== 0)
        f.error(`${p}.exponent`, 'exponent-sign', `${who}: exponent must be 0 for booleans`, d.exponent);
      break;
  }

  if (d.size === 0) f.error(`${p}.size`, 'zero', `${who}: size must be at least 1`, d.size);
  else if (d.type <= StatType.Peak && d.size !== 1)
    f.error(`${p}.size`, 'scalar-size', `${who}: a non-histogram stat has exactly one item`, d.size);

  if (d.type === StatType.LinearHist) {
    if (d.bucketSize === 0)
      f.error(`${p}.bucket_size`, 'bucket-size-zero', `${who}: a linear histogram needs a bucket size`);
  } else if (d.bucketSize !== 0) {
    f.error(
      `${p}.bucket_size`,
      'bucket-size-nonzero',
      `${who}: only linear histograms have a bucket size`,
      d.bucketSize,
    );
  }

  if (d.unit === StatUnit.Boolean && isHistogram(d.type)) {
    if (d.type === StatType.LogHist) {
      f.error(
        `${p}.flags`,
        'boolean-log-hist',
        `${who}: a boolean stat cannot be a logarithmic histogram`,
        hex(d.flags),
      );
    } else {
      if (d.size !== 2)
        f.error(`${p}.size`, 'boolean-hist-size', `${who}: a boolean linear histogram has two buckets`, d.size);
      if (d.bucketSize > 1)
        f.warning(
          `${p}.bucket_size`,
          'boolean-hist-bucket-size',
          `${who}: a boolean histogram's buckets should be 0 and 1`,
          d.bucketSize,
        );
    }
  }
}

/** Checks each stat's item range and returns the data block size in bytes. */
function checkDataRanges(
  f: Findings,
  descriptors: readonly KvmStatDescriptor[],
  dataOffset: number,
  fileSize: number | undefined,
): number {
  let dataSize = 0;
  const placed: KvmStatDescriptor[] = [];
  for (const d of descriptors) {
    const p = `desc[${d.index}].offset`;
    const end = d.offset + d.size * WORD_SIZE; // < 2^33: exact
    if (d.offset % WORD_SIZE !== 0) {
      f.fatal(p, 'unaligned', `"${d.name}": data items are u64 and must start on a multiple of 8`, d.offset);
      continue;
    }
    if (end > LIMITS.maxDataBytes) {
      f.fatal(
        p,
        'too-large',
        `"${d.name}": ends ${end} bytes into the data block, over the limit of ${LIMITS.maxDataBytes}`,
        d.offset,
      );
      continue;
    }
    if (fileSize !== undefined && dataOffset + end > fileSize) {
      f.fatal(
        p,
        'past-end',
        `"${d.name}": items [${dataOffset + d.offset}, ${dataOffset + end}) end past the file (${fileSize} bytes)`,
        d.offset,
      );
      continue;
    }
    dataSize = Math.max(dataSize, end);
    if (d.size > 0) placed.push(d);
  }
  // Overlap between individual stats: sweep in offset order.
  placed.sort((a, b) => a.offset - b.offset || a.index - b.index);
  let reach: KvmStatDescriptor | undefined;
  for (const d of placed) {
    if (reach && d.offset < reach.offset + reach.size * WORD_SIZE) {
      f.error(
        `desc[${d.index}].offset`,
        'stats-overlap',
        `"${d.name}" overlaps the items of "${reach.name}" (desc[${reach.index}])`,
        d.offset,
      );
    }
    if (!reach || d.offset + d.size * WORD_SIZE > reach.offset + reach.size * WORD_SIZE) reach = d;
  }
  return dataSize;
}

function checkBlockOverlap(f: Findings, blocks: Block[]) {
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i + 1; j < blocks.length; j++) {
      const a = blocks[i]!;
      const b = blocks[j]!;
      if (a.start >= a.end || b.start >= b.end) continue;
      if (a.start < b.end && b.start < a.end) {
        const later = b.start >= a.start ? b : a;
        const other = later === b ? a : b;
        f.fatal(
          later.field,
          'blocks-overlap',
          `${later.name} block [${later.start}, ${later.end}) overlaps the ${other.name} block [${other.start}, ${other.end})`,
          later.start,
        );
      }
    }
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
