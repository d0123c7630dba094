/**
 * The producer's layout: read from (or, for the writer, planned and written into) the header,
 * and validated before any address is derived from it. Every entry address is computed by
 * `entryOffset` from the producer's header — base + entries_offs + domid × entry_stride — never
 * from the consumer's own compiled sizes.
 */

import { CACHE_LINE, isPowerOfTwo, PAGE_SIZE, roundUp } from '../../abi/layout.ts';
import { UsageError, type Violation } from '../../errors.ts';
import { readLayoutHeader } from '../header.ts';
import { type DirectoryModel, FORMAT, type HeaderField } from './model.ts';

export interface DirectoryLayout {
  magic: number;
  revision: number;
  headerSize: number;
  entriesOffs: number;
  entrySize: number;
  entryStride: number;
  nrEntries: number;
  pageSize: number;
  /** A u64; above 2^53 it is inexact here, but then it is rejected anyway. */
  regionSize: number;
  ownerStartTime: bigint;
  ownerPid: number;
}

/** The schema name of each layout property (for messages). */
export const LAYOUT_FIELD_NAMES: Record<keyof DirectoryLayout, HeaderField> = {
  magic: 'magic',
  revision: 'revision',
  headerSize: 'header_size',
  entriesOffs: 'entries_offs',
  entrySize: 'entry_size',
  entryStride: 'entry_stride',
  nrEntries: 'nr_entries',
  pageSize: 'page_size',
  regionSize: 'region_size',
  ownerStartTime: 'owner_start_time',
  ownerPid: 'owner_pid',
};

/** Offset of the entry of `domid` from the start of the region: the one address helper. */
export function entryOffset(layout: DirectoryLayout, domid: number): number {
  return layout.entriesOffs + domid * layout.entryStride;
}

/** Bytes of the region the entries cover. */
export function layoutExtent(layout: DirectoryLayout): number {
  return layout.entriesOffs + layout.nrEntries * layout.entryStride;
}

/** Decodes the header from a private copy of its bytes (never from the live region). */
export function parseHeader(copy: Uint8Array, model: DirectoryModel): DirectoryLayout {
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const get = (name: HeaderField): bigint => {
    const { offset, size } = model.header[name];
    return size === 4 ? BigInt(view.getUint32(offset, true)) : view.getBigUint64(offset, true);
  };
  const n = (name: HeaderField) => Number(get(name));
  return {
    magic: n('magic'),
    revision: n('revision'),
    headerSize: n('header_size'),
    entriesOffs: n('entries_offs'),
    entrySize: n('entry_size'),
    entryStride: n('entry_stride'),
    nrEntries: n('nr_entries'),
    pageSize: n('page_size'),
    regionSize: n('region_size'),
    ownerStartTime: get('owner_start_time'),
    ownerPid: n('owner_pid'),
  };
}

/** Rules whose failure makes addresses untrustworthy: a reader refuses the region. */
export const ADDRESSING_RULES: ReadonlySet<string> = new Set([
  'region-too-short',
  'magic',
  'header-size-too-small',
  'entries-offs-below-header-size',
  'entry-size-too-small',
  'entry-stride-below-size',
  'alignment',
  'region-size-exceeds-mapping',
  'entries-exceed-region',
]);

/**
 * Every layout invariant, checked on a parsed header against the real length of the mapping.
 * Arithmetic stays exact: every term is < 2^32 except nr × stride, compared by division.
 */
export function validateLayout(layout: DirectoryLayout, model: DirectoryModel, mappingLength: number): Violation[] {
  const out: Violation[] = [];
  const bad = (
    field: HeaderField,
    rule: string,
    value: number | bigint | string,
    message: string,
    severity: 'error' | 'warning' = 'error',
  ) => out.push({ field: `header.${field}`, rule, value: String(value), severity, message });
  const L = layout;
  if (L.magic !== model.magic) {
    bad('magic', 'magic', `0x${L.magic.toString(16)}`, `expected MAGIC 0x${model.magic.toString(16)}`);
    return out; // not a domain directory: nothing else means anything
  }
  if (L.headerSize < model.minHeaderSize) {
    bad(
      'header_size',
      'header-size-too-small',
      L.headerSize,
      `below the ${model.minHeaderSize} bytes every producer writes`,
    );
  }
  if (L.entriesOffs < L.headerSize) {
    bad('entries_offs', 'entries-offs-below-header-size', L.entriesOffs, `below header_size ${L.headerSize}`);
  }
  if (L.entrySize < model.minEntrySize) {
    bad(
      'entry_size',
      'entry-size-too-small',
      L.entrySize,
      `below the ${model.minEntrySize} bytes every producer writes`,
    );
  }
  if (L.entryStride < L.entrySize) {
    bad('entry_stride', 'entry-stride-below-size', L.entryStride, `below entry_size ${L.entrySize}`);
  }
  if (L.entriesOffs % 8 !== 0) bad('entries_offs', 'alignment', L.entriesOffs, 'entries must be 8-byte aligned');
  if (L.entryStride % 8 !== 0) bad('entry_stride', 'alignment', L.entryStride, 'entries must be 8-byte aligned');
  if (!isPowerOfTwo(L.pageSize) || L.pageSize < PAGE_SIZE) {
    bad('page_size', 'page-size', L.pageSize, `must be a power of two ≥ ${PAGE_SIZE}`);
  } else if (L.regionSize % L.pageSize !== 0) {
    bad('region_size', 'region-size-pages', L.regionSize, `not a whole number of ${L.pageSize}-byte pages`);
  }
  if (L.regionSize > mappingLength) {
    bad('region_size', 'region-size-exceeds-mapping', L.regionSize, `the mapping has only ${mappingLength} bytes`);
  }
  const room = Math.min(L.regionSize, mappingLength) - L.entriesOffs;
  if (room < 0 || (L.nrEntries > 0 && (L.entryStride === 0 || L.nrEntries > Math.floor(room / L.entryStride)))) {
    bad(
      'nr_entries',
      'entries-exceed-region',
      L.nrEntries,
      'entries_offs + nr_entries × entry_stride exceeds region_size',
    );
  }
  if (L.nrEntries < model.maxEntries) {
    bad('nr_entries', 'nr-entries-short', L.nrEntries, `a producer publishes all ${model.maxEntries} entries`);
  } else if (L.nrEntries > model.maxEntries) {
    const message = `domids past ${model.maxEntries - 1} are unknown to this revision and ignored`;
    bad('nr_entries', 'nr-entries-beyond-known', L.nrEntries, message, 'warning');
  }
  if (L.ownerPid === 0) bad('owner_pid', 'owner-missing', 0, 'the owning host must publish its pid');
  if (L.ownerStartTime === 0n)
    bad('owner_start_time', 'owner-missing', 0, 'the owning host must publish its start time');
  return out;
}

/** Copies the header out of the region, parses and validates it; throws on an addressing violation. */
export function readLayout(
  bytes: Uint8Array,
  model: DirectoryModel,
): { layout: DirectoryLayout; raw: Uint8Array; violations: Violation[] } {
  return readLayoutHeader(bytes, {
    format: FORMAT,
    size: model.minHeaderSize,
    what: 'a directory',
    parse: (raw) => parseHeader(raw, model),
    validate: (layout, length) => validateLayout(layout, model, length),
    addressing: ADDRESSING_RULES,
  });
}

export interface DirectoryPlanOptions {
  pageSize?: number;
}

/** The layout a producer built from `model` writes (owner words filled in by the writer). */
export function planLayout(model: DirectoryModel, options: DirectoryPlanOptions = {}): DirectoryLayout {
  const pageSize = options.pageSize ?? PAGE_SIZE;
  if (!isPowerOfTwo(pageSize) || pageSize < PAGE_SIZE) throw new UsageError(`bad page size ${pageSize}`);
  const entriesOffs = roundUp(model.headerSize, CACHE_LINE);
  const entryStride = roundUp(model.entrySize, 8);
  const nrEntries = model.maxEntries;
  return {
    magic: model.magic,
    revision: model.abi.revision,
    headerSize: model.headerSize,
    entriesOffs,
    entrySize: model.entrySize,
    entryStride,
    nrEntries,
    pageSize,
    regionSize: roundUp(entriesOffs + nrEntries * entryStride, pageSize),
    ownerStartTime: 0n,
    ownerPid: 0,
  };
}
