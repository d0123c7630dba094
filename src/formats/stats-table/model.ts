/**
 * What the stats-table codec needs to know about one revision of the ABI, extracted from its
 * ResolvedAbi: where the header words are, which groups exist (with their bits, offsets and
 * counters) and which bytes must be zero. Built from a lock file, it is "the consumer (or
 * producer) compiled from revision N".
 *
 * Offsets here are inside a block; absolute addresses always come from the producer's header
 * (see layout.ts blockOffset).
 */
import {
  findConstant,
  findStruct,
  type ResolvedAbi,
  type ResolvedField,
  type ResolvedStruct,
} from '../../abi/resolved.ts';
import { FormatError } from '../../errors.ts';
import type { NameModel } from './name.ts';

export const FORMAT = 'stats-table';

/** Header words of the domain block, by schema name. They never move (append-only ABI). */
export const HEADER_FIELDS = [
  'magic',
  'revision',
  'dom_size',
  'vcpu_offs',
  'vcpu_size',
  'vcpu_stride',
  'nr_vcpus',
  'page_size',
  'region_size',
  'dom_active',
  'vcpu_active',
  'arch',
  'arch_dom_offs',
  'arch_dom_size',
  'arch_vcpu_offs',
  'arch_vcpu_size',
] as const;
export type HeaderField = (typeof HEADER_FIELDS)[number];

/** Identity words of the domain header (carved out of its reserved bytes in rev 3). */
export const DOM_IDENTITY_FIELDS = ['domid', 'owner_pid', 'vm_stats_fd', 'unique_id', 'owner_start_time'] as const;
export type DomIdentityField = (typeof DOM_IDENTITY_FIELDS)[number];
/** Identity words of each vCPU header (carved in rev 3). */
export const VCPU_IDENTITY_FIELDS = ['kvm_stats_fd', 'host_tid'] as const;
export type VcpuIdentityField = (typeof VCPU_IDENTITY_FIELDS)[number];

/** A u32 or u64 word at `offset` inside its block. */
export interface WordModel {
  offset: number;
  size: 4 | 8;
}

export type Scope = 'dom' | 'vcpu' | 'vcpu-arch';

/**
 * What a counter is, in every revision: its block, its group's bit in that block's active word
 * (-1 for the vCPU arch block) and its offset inside the group. A rename of the counter or of its
 * group (which `hvkit abi check` accepts with a warning) keeps all three: offsets never move,
 * group bits are never renumbered or reused, and a retired counter's bytes stay a tombstone. A
 * tool that picks a counter for its meaning goes by this, never by the name.
 */
export interface FieldId {
  scope: Scope;
  group: number;
  offset: number;
}

export function sameFieldId(a: FieldId, b: FieldId): boolean {
  return a.offset === b.offset && a.group === b.group && a.scope === b.scope;
}

export interface CounterModel {
  name: string;
  /** The counter across revisions (its name may change, this does not). */
  id: FieldId;
  /** Offset inside the block (not the group). */
  offset: number;
  /** Number of u64 elements (1 for a scalar counter, buckets for a histogram). */
  count: number;
  field: ResolvedField;
}

/** Bytes that must be zero: padding, reserved or retired fields. */
export interface ZeroRange {
  name: string;
  offset: number;
  length: number;
}

export interface GroupModel {
  scope: Scope;
  name: string;
  /** Bit in the active word of its scope; -1 for an arch block (present when its size is non-zero). */
  bit: number;
  /** Offset of the group inside its block. */
  offset: number;
  size: number;
  /** Offset of the sequence word inside the block. */
  seqOffset: number;
  counters: CounterModel[];
  /** Padding and reserved bytes inside the group (offsets relative to the block). */
  zero: ZeroRange[];
}

export interface TableModel {
  abi: ResolvedAbi;
  /** This revision's sizeof(dom) and sizeof(vcpu). */
  domSize: number;
  vcpuSize: number;
  /** Bytes of the domain header (everything before the first group). */
  headerSize: number;
  header: Record<HeaderField, { offset: number; size: 4 | 8 }>;
  domMagic: number;
  vcpuMagic: number;
  vcpuIdOffset: number;
  /** Bytes of the vCPU header (magic, id, reserved), before the first group. */
  vcpuHeaderSize: number;
  dom: GroupModel[];
  vcpu: GroupModel[];
  /** The x86 vCPU arch block, when the ABI defines it. */
  vcpuArch?: GroupModel;
  /** Reserved and padding bytes outside groups (offsets inside the block). */
  domZero: ZeroRange[];
  vcpuZero: ZeroRange[];
  /** Arch enum values by name. */
  archValues: Map<string, number>;
  /** The identity words this revision has (none before rev 3). */
  domIdentity: Partial<Record<DomIdentityField, WordModel>>;
  vcpuIdentity: Partial<Record<VcpuIdentityField, WordModel>>;
  /** The domain's name field (since rev 5). */
  domName?: NameModel;
  /** End of the layout words (HEADER_FIELDS) in the domain header: the part that never changes after create. */
  layoutWordsEnd: number;
}

function abiError(field: string, rule: string, message: string): FormatError {
  return new FormatError(`${FORMAT} abi`, field, rule, message);
}

function requireStruct(abi: ResolvedAbi, name: string): ResolvedStruct {
  const s = findStruct(abi, name);
  if (!s) throw abiError(name, 'missing-struct', `the ABI has no struct ${name}`);
  return s;
}

function magicValue(abi: ResolvedAbi, name: string): number {
  const c = findConstant(abi, name);
  if (!c) throw abiError(name, 'missing-constant', `the ABI has no constant ${name}`);
  return Number(c.value);
}

function isZeroKind(f: ResolvedField): boolean {
  return f.kind === 'pad' || f.kind === 'reserved' || f.kind === 'retired';
}

/** A group (or arch block) struct as a GroupModel placed at `offset` inside its block. */
function groupModel(scope: Scope, name: string, bit: number, offset: number, struct: ResolvedStruct) {
  const seqField = struct.seqField ? struct.fields.find((f) => f.name === struct.seqField) : undefined;
  if (seqField?.type !== 'u32') {
    throw abiError(`${struct.name}.seq`, 'group-seq', 'a group needs a u32 sequence word');
  }
  const counters: CounterModel[] = [];
  const zero: ZeroRange[] = [];
  for (const f of struct.fields) {
    if (isZeroKind(f)) zero.push({ name: f.name, offset: offset + f.offset, length: f.size });
    else if (f.kind === 'int' || f.kind === 'array') {
      if (f.type !== 'u64') throw abiError(`${struct.name}.${f.name}`, 'counter-type', 'counters must be u64');
      const id = { scope, group: bit, offset: f.offset };
      counters.push({ name: f.name, id, offset: offset + f.offset, count: f.count, field: f });
    } else if (f !== seqField) {
      throw abiError(`${struct.name}.${f.name}`, 'group-field', `a group holds only counters, not ${f.kind}`);
    }
  }
  return { scope, name, bit, offset, size: struct.size, seqOffset: offset + seqField.offset, counters, zero };
}

function blockGroups(abi: ResolvedAbi, scope: Scope, block: ResolvedStruct) {
  const groups: GroupModel[] = [];
  const zero: ZeroRange[] = [];
  for (const f of block.fields) {
    if (f.kind === 'struct' && f.group) {
      groups.push(groupModel(scope, f.name, f.group.bit, f.offset, requireStruct(abi, f.struct ?? '')));
    } else if (isZeroKind(f)) zero.push({ name: f.name, offset: f.offset, length: f.size });
  }
  return { groups, zero };
}

/** The words named `names` that `block` has (u32 or u64 ints); a name of another kind is refused. */
function identityWords<N extends string>(block: ResolvedStruct, names: readonly N[]): Partial<Record<N, WordModel>> {
  const out: Partial<Record<N, WordModel>> = {};
  for (const name of names) {
    const f = block.fields.find((x) => x.name === name);
    if (!f) continue;
    if (f.kind !== 'int' || (f.type !== 'u32' && f.type !== 'u64')) {
      throw abiError(`${block.name}.${name}`, 'identity-type', 'an identity word is a u32 or u64 int');
    }
    out[name] = { offset: f.offset, size: f.type === 'u32' ? 4 : 8 };
  }
  return out;
}

/** The domain header's `name` char field, when this revision has one. */
function nameField(block: ResolvedStruct): NameModel | undefined {
  const f = block.fields.find((x) => x.name === 'name');
  if (!f) return undefined;
  if (f.kind !== 'char' || f.size < 2) {
    throw abiError(`${block.name}.name`, 'name-type', 'the domain name is a char array of at least 2 bytes');
  }
  return { offset: f.offset, length: f.size };
}

/** The identity of counter `counter` of group `group` in this revision; undefined when it has no such counter. */
export function counterId(
  model: TableModel,
  scope: 'dom' | 'vcpu',
  group: string,
  counter: string,
): FieldId | undefined {
  return model[scope].find((g) => g.name === group)?.counters.find((c) => c.name === counter)?.id;
}

const cache = new WeakMap<ResolvedAbi, TableModel>();

/** The codec's view of one revision. Throws FormatError if the ABI lacks what the codec relies on. */
export function tableModel(abi: ResolvedAbi): TableModel {
  const cached = cache.get(abi);
  if (cached) return cached;
  const dom = requireStruct(abi, 'dom');
  const vcpu = requireStruct(abi, 'vcpu');
  const header = {} as TableModel['header'];
  for (const name of HEADER_FIELDS) {
    const f = dom.fields.find((x) => x.name === name);
    if (!f || (f.size !== 4 && f.size !== 8)) throw abiError(`dom.${name}`, 'missing-header-field', 'not in the ABI');
    header[name] = { offset: f.offset, size: f.size };
  }
  const vcpuId = vcpu.fields.find((f) => f.name === 'vcpu_id');
  const vcpuMagicField = vcpu.fields.find((f) => f.name === 'magic');
  if (!vcpuId || !vcpuMagicField || vcpuMagicField.offset !== 0) {
    throw abiError('vcpu', 'vcpu-header', 'a vCPU block starts with magic and vcpu_id');
  }
  const d = blockGroups(abi, 'dom', dom);
  const v = blockGroups(abi, 'vcpu', vcpu);
  const archStruct = findStruct(abi, 'vcpu_arch_x86');
  const archEnum = abi.enums.find((e) => e.name === 'arch');
  const domName = nameField(dom);
  const model: TableModel = {
    abi,
    domSize: dom.size,
    vcpuSize: vcpu.size,
    headerSize: d.groups[0]?.offset ?? dom.size,
    header,
    domMagic: magicValue(abi, 'DOM_MAGIC'),
    vcpuMagic: magicValue(abi, 'VCPU_MAGIC'),
    vcpuIdOffset: vcpuId.offset,
    vcpuHeaderSize: v.groups[0]?.offset ?? vcpu.size,
    dom: d.groups,
    vcpu: v.groups,
    ...(archStruct ? { vcpuArch: groupModel('vcpu-arch', 'arch', -1, 0, archStruct) } : {}),
    domZero: d.zero,
    vcpuZero: v.zero,
    archValues: new Map((archEnum?.values ?? []).map((x) => [x.name, x.value])),
    domIdentity: identityWords(dom, DOM_IDENTITY_FIELDS),
    vcpuIdentity: identityWords(vcpu, VCPU_IDENTITY_FIELDS),
    ...(domName ? { domName } : {}),
    layoutWordsEnd: Math.max(...HEADER_FIELDS.map((n) => header[n].offset + header[n].size)),
  };
  cache.set(abi, model);
  return model;
}
