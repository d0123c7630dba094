/**
 * What the domain-directory codec needs to know about one revision of the ABI, extracted from its
 * ResolvedAbi: where the header words and the entry fields are, the state values, the known flag
 * bits and the bytes that must be zero. Built from a lock file it is "the consumer (or producer)
 * compiled from revision N". Offsets are inside the header or inside an entry; absolute
 * addresses always come from the producer's header (layout.ts entryOffset).
 */
import { findConstant, findStruct, type ResolvedAbi, type ResolvedStruct } from '../../abi/resolved.ts';
import { FormatError } from '../../errors.ts';

export const FORMAT = 'domain-directory';

/** Header words the codec relies on; every revision has them at the same place (append-only ABI). */
export const HEADER_FIELDS = [
  'magic',
  'revision',
  'header_size',
  'entries_offs',
  'entry_size',
  'entry_stride',
  'nr_entries',
  'page_size',
  'region_size',
  'owner_start_time',
  'owner_pid',
  'changes',
] as const;
export type HeaderField = (typeof HEADER_FIELDS)[number];

/** Entry fields every producer writes (an entry_size below their end is refused). */
export const REQUIRED_ENTRY_FIELDS = ['seq', 'state', 'unique_id', 'generation'] as const;
/** Entry fields a producer may lack (older revisions, shorter entries): absent, not zero. */
export const OPTIONAL_ENTRY_FIELDS = ['flags', 'nr_vcpus'] as const;
export type EntryField = (typeof REQUIRED_ENTRY_FIELDS)[number] | (typeof OPTIONAL_ENTRY_FIELDS)[number];

export interface FieldPlace {
  offset: number;
  size: 4 | 8;
}

export interface ZeroRange {
  name: string;
  offset: number;
  length: number;
}

export interface DirectoryModel {
  abi: ResolvedAbi;
  /** This revision's sizeof(header) and sizeof(entry). */
  headerSize: number;
  entrySize: number;
  /** Bytes of the header every producer must write (through the last word the codec uses). */
  minHeaderSize: number;
  /** Bytes of an entry every producer must write (through the last required field). */
  minEntrySize: number;
  header: Record<HeaderField, FieldPlace>;
  entry: Record<EntryField, FieldPlace>;
  magic: number;
  /** The domid bound the ABI defines (NR_ENTRIES = MAX_DOMID + 1). */
  maxEntries: number;
  /** State names by value (none, running, …). */
  states: Map<number, string>;
  /** Known bits of the flags word. */
  knownFlags: number;
  /** Bit of the `stats` flag. */
  statsFlagBit: number;
  headerZero: ZeroRange[];
  entryZero: ZeroRange[];
}

function abiError(field: string, rule: string, message: string): FormatError {
  return new FormatError(`${FORMAT} abi`, field, rule, message);
}

function requireStruct(abi: ResolvedAbi, name: string): ResolvedStruct {
  const s = findStruct(abi, name);
  if (!s) throw abiError(name, 'missing-struct', `the ABI has no struct ${name}`);
  return s;
}

function places<K extends string>(struct: ResolvedStruct, names: readonly K[]): Record<K, FieldPlace> {
  const out = {} as Record<K, FieldPlace>;
  for (const name of names) {
    const f = struct.fields.find((x) => x.name === name);
    if (!f || (f.size !== 4 && f.size !== 8) || f.offset % f.size !== 0) {
      throw abiError(`${struct.name}.${name}`, 'missing-field', 'not in the ABI as an aligned u32/u64');
    }
    out[name] = { offset: f.offset, size: f.size };
  }
  return out;
}

function zeroRanges(struct: ResolvedStruct): ZeroRange[] {
  return struct.fields
    .filter((f) => f.kind === 'pad' || f.kind === 'reserved' || f.kind === 'retired')
    .map((f) => ({ name: f.name, offset: f.offset, length: f.size }));
}

const cache = new WeakMap<ResolvedAbi, DirectoryModel>();

/** The codec's view of one revision. Throws FormatError if the ABI lacks what the codec relies on. */
export function directoryModel(abi: ResolvedAbi): DirectoryModel {
  const cached = cache.get(abi);
  if (cached) return cached;
  const header = requireStruct(abi, 'header');
  const entry = requireStruct(abi, 'entry');
  const headerPlaces = places(header, HEADER_FIELDS);
  const entryPlaces = places(entry, [...REQUIRED_ENTRY_FIELDS, ...OPTIONAL_ENTRY_FIELDS]);
  const end = (p: FieldPlace) => p.offset + p.size;
  const magic = findConstant(abi, 'MAGIC');
  const nr = findConstant(abi, 'NR_ENTRIES');
  if (!magic || !nr) throw abiError('constants', 'missing-constant', 'the ABI needs MAGIC and NR_ENTRIES');
  const stateEnum = abi.enums.find((e) => e.name === 'domain_state');
  const flagsEnum = abi.enums.find((e) => e.name === 'entry_flags');
  const statsFlag = flagsEnum?.values.find((v) => v.name === 'stats');
  if (!stateEnum || !statsFlag) throw abiError('enums', 'missing-enum', 'the ABI needs domain_state and entry_flags');
  const model: DirectoryModel = {
    abi,
    headerSize: header.size,
    entrySize: entry.size,
    minHeaderSize: Math.max(...HEADER_FIELDS.map((n) => end(headerPlaces[n]))),
    minEntrySize: Math.max(...REQUIRED_ENTRY_FIELDS.map((n) => end(entryPlaces[n]))),
    header: headerPlaces,
    entry: entryPlaces,
    magic: Number(magic.value),
    maxEntries: Number(nr.value),
    states: new Map(stateEnum.values.map((v) => [v.value, v.name])),
    knownFlags: flagsEnum!.values.filter((v) => !v.retired).reduce((m, v) => m | (1 << v.value), 0) >>> 0,
    statsFlagBit: statsFlag.value,
    headerZero: zeroRanges(header),
    entryZero: zeroRanges(entry),
  };
  cache.set(abi, model);
  return model;
}
