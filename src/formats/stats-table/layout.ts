/**
 * The producer's layout: read from (or, for a writer, planned and then written into) the header
 * of the domain block, and validated before any address is derived from it.
 *
 * Every address in a region is computed by `blockOffset` from the producer's header — base +
 * vcpu_offs + i × vcpu_stride — never from the consumer's own compiled sizes.
 */
import { CACHE_LINE, defaultPacking, isPowerOfTwo, PAGE_SIZE, roundUp } from '../../abi/layout.ts';
import { UsageError, type Violation } from '../../errors.ts';
import { readLayoutHeader } from '../header.ts';
import { FORMAT, type HEADER_FIELDS, type Scope, type TableModel } from './model.ts';

export interface TableLayout {
  magic: number;
  revision: number;
  domSize: number;
  vcpuOffs: number;
  vcpuSize: number;
  vcpuStride: number;
  nrVcpus: number;
  pageSize: number;
  /** A u64 in the header; above 2^53 it is inexact here, but then it is rejected anyway. */
  regionSize: number;
  domActive: bigint;
  vcpuActive: bigint;
  arch: number;
  archDomOffs: number;
  archDomSize: number;
  archVcpuOffs: number;
  archVcpuSize: number;
}

/** The schema name of each layout property (for messages). */
export const LAYOUT_FIELD_NAMES: Record<keyof TableLayout, (typeof HEADER_FIELDS)[number]> = {
  magic: 'magic',
  revision: 'revision',
  domSize: 'dom_size',
  vcpuOffs: 'vcpu_offs',
  vcpuSize: 'vcpu_size',
  vcpuStride: 'vcpu_stride',
  nrVcpus: 'nr_vcpus',
  pageSize: 'page_size',
  regionSize: 'region_size',
  domActive: 'dom_active',
  vcpuActive: 'vcpu_active',
  arch: 'arch',
  archDomOffs: 'arch_dom_offs',
  archDomSize: 'arch_dom_size',
  archVcpuOffs: 'arch_vcpu_offs',
  archVcpuSize: 'arch_vcpu_size',
};

/** Offset of block `index` of `scope` from the start of the region: the one address helper. */
export function blockOffset(layout: TableLayout, scope: Scope, index: number): number {
  if (scope === 'dom') return 0;
  const base = layout.vcpuOffs + index * layout.vcpuStride;
  return scope === 'vcpu' ? base : base + layout.archVcpuOffs;
}

/** Bytes of the region the layout describes: the end of the last vCPU block. */
export function layoutExtent(layout: TableLayout): number {
  return layout.vcpuOffs + layout.nrVcpus * layout.vcpuStride;
}

/** The producer's size of a block of `scope`: bytes beyond it are absent for a consumer. */
export function producerSize(layout: TableLayout, scope: Scope): number {
  if (scope === 'dom') return layout.domSize;
  return scope === 'vcpu' ? layout.vcpuSize : layout.archVcpuSize;
}

/** Decodes a header from a private copy of its bytes (never from the live region). */
export function parseHeader(copy: Uint8Array, model: TableModel): TableLayout {
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const get = (name: (typeof HEADER_FIELDS)[number]): number | bigint => {
    const { offset, size } = model.header[name];
    return size === 4 ? view.getUint32(offset, true) : view.getBigUint64(offset, true);
  };
  const n = (name: (typeof HEADER_FIELDS)[number]) => Number(get(name));
  return {
    magic: n('magic'),
    revision: n('revision'),
    domSize: n('dom_size'),
    vcpuOffs: n('vcpu_offs'),
    vcpuSize: n('vcpu_size'),
    vcpuStride: n('vcpu_stride'),
    nrVcpus: n('nr_vcpus'),
    pageSize: n('page_size'),
    regionSize: n('region_size'),
    domActive: BigInt(get('dom_active')),
    vcpuActive: BigInt(get('vcpu_active')),
    arch: n('arch'),
    archDomOffs: n('arch_dom_offs'),
    archDomSize: n('arch_dom_size'),
    archVcpuOffs: n('arch_vcpu_offs'),
    archVcpuSize: n('arch_vcpu_size'),
  };
}

/** Rules whose failure makes addresses untrustworthy: a reader refuses the region. */
export const ADDRESSING_RULES: ReadonlySet<string> = new Set([
  'region-too-short',
  'magic',
  'dom-size-too-small',
  'vcpu-size-too-small',
  'vcpu-offs-below-dom-size',
  'vcpu-stride-below-size',
  'alignment',
  'region-size-exceeds-mapping',
  'vcpus-exceed-region',
  'arch-block-bounds',
]);

/**
 * Every layout invariant of DESIGN §1, checked on a parsed header against the real length of the
 * mapping. Arithmetic stays in exact integers: every term is < 2^32 except nr × stride, which
 * is compared by division.
 */
export function validateLayout(layout: TableLayout, model: TableModel, mappingLength: number): Violation[] {
  const out: Violation[] = [];
  const bad = (
    field: string,
    rule: string,
    value: number | bigint | string,
    message: string,
    severity: 'error' | 'warning' = 'error',
  ) => out.push({ field: `dom.${field}`, rule, value: String(value), severity, message });
  const L = layout;

  if (L.magic !== model.domMagic) {
    bad('magic', 'magic', `0x${L.magic.toString(16)}`, `expected DOM_MAGIC 0x${model.domMagic.toString(16)}`);
    return out; // not a stats table (or a deliberately incompatible one): nothing else means anything
  }
  if (L.domSize < model.headerSize)
    bad('dom_size', 'dom-size-too-small', L.domSize, `smaller than the ${model.headerSize}-byte header`);
  if (L.vcpuSize < model.vcpuHeaderSize) {
    bad('vcpu_size', 'vcpu-size-too-small', L.vcpuSize, `smaller than the ${model.vcpuHeaderSize}-byte vCPU header`);
  }
  if (L.vcpuOffs < L.domSize) bad('vcpu_offs', 'vcpu-offs-below-dom-size', L.vcpuOffs, `below dom_size ${L.domSize}`);
  if (L.vcpuStride < L.vcpuSize)
    bad('vcpu_stride', 'vcpu-stride-below-size', L.vcpuStride, `below vcpu_size ${L.vcpuSize}`);
  if (L.vcpuOffs % 8 !== 0) bad('vcpu_offs', 'alignment', L.vcpuOffs, 'vCPU blocks must be 8-byte aligned');
  if (L.vcpuStride % 8 !== 0) bad('vcpu_stride', 'alignment', L.vcpuStride, 'vCPU blocks must be 8-byte aligned');
  if (!isPowerOfTwo(L.pageSize) || L.pageSize < PAGE_SIZE) {
    bad('page_size', 'page-size', L.pageSize, `must be a power of two ≥ ${PAGE_SIZE}`);
  } else if (L.regionSize % L.pageSize !== 0) {
    bad('region_size', 'region-size-pages', L.regionSize, `not a whole number of ${L.pageSize}-byte pages`);
  }
  if (L.regionSize > mappingLength) {
    bad('region_size', 'region-size-exceeds-mapping', L.regionSize, `the mapping has only ${mappingLength} bytes`);
  }
  const room = Math.min(L.regionSize, mappingLength) - L.vcpuOffs;
  if (room < 0 || (L.nrVcpus > 0 && (L.vcpuStride === 0 || L.nrVcpus > Math.floor(room / L.vcpuStride)))) {
    bad('nr_vcpus', 'vcpus-exceed-region', L.nrVcpus, `vcpu_offs + nr_vcpus × vcpu_stride exceeds region_size`);
  }

  const archKnown = [...model.archValues.values()].includes(L.arch);
  if (!archKnown) bad('arch', 'arch-unknown', L.arch, 'unknown arch: its blocks are ignored', 'warning');
  if (L.arch === 0 && (L.archDomSize !== 0 || L.archVcpuSize !== 0)) {
    bad('arch', 'arch-block-without-arch', L.arch, 'arch blocks present but arch is none');
  }
  const within = (offs: number, size: number, lo: number, hi: number, name: string) => {
    if (size === 0) {
      if (offs !== 0) bad(`${name}_offs`, 'arch-block-bounds', offs, 'an absent arch block has offset 0');
    } else if (offs < lo || offs + size > hi || offs % 8 !== 0) {
      bad(
        `${name}_offs`,
        'arch-block-bounds',
        offs,
        `[${offs}, ${offs + size}) is not an aligned range inside [${lo}, ${hi})`,
      );
    }
  };
  within(L.archDomOffs, L.archDomSize, L.domSize, L.vcpuOffs, 'arch_dom');
  within(L.archVcpuOffs, L.archVcpuSize, L.vcpuSize, L.vcpuStride, 'arch_vcpu');
  return out;
}

/** Copies the header out of the region, parses and validates it; throws on an addressing violation. */
export function readLayout(
  bytes: Uint8Array,
  model: TableModel,
): { layout: TableLayout; raw: Uint8Array; violations: Violation[] } {
  return readLayoutHeader(bytes, {
    format: FORMAT,
    size: model.headerSize,
    what: 'a table',
    parse: (raw) => parseHeader(raw, model),
    validate: (layout, length) => validateLayout(layout, model, length),
    addressing: ADDRESSING_RULES,
  });
}

export interface PlanOptions {
  nrVcpus: number;
  pageSize?: number;
  /** 'x86_64' adds a vcpu_arch_x86 block to every vCPU block. */
  arch?: 'none' | 'x86_64';
  /** Groups to produce (default: all this revision knows). */
  domGroups?: readonly string[];
  vcpuGroups?: readonly string[];
  packing?: typeof defaultPacking;
}

function activeWord(model: TableModel, scope: 'dom' | 'vcpu', names: readonly string[] | undefined): bigint {
  const groups = model[scope];
  let word = 0n;
  for (const name of names ?? groups.map((g) => g.name)) {
    const g = groups.find((x) => x.name === name);
    if (!g) throw new UsageError(`revision ${model.abi.revision} has no ${scope} group ${name}`);
    word |= 1n << BigInt(g.bit);
  }
  return word;
}

/** The layout a producer built from `model` writes into its header. */
export function planLayout(model: TableModel, options: PlanOptions): TableLayout {
  const { nrVcpus } = options;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  if (!Number.isInteger(nrVcpus) || nrVcpus < 0 || nrVcpus > 65536)
    throw new UsageError(`nr_vcpus out of range: ${nrVcpus}`);
  if (!isPowerOfTwo(pageSize) || pageSize < PAGE_SIZE) throw new UsageError(`bad page size ${pageSize}`);
  const archName = options.arch ?? 'none';
  const arch = model.archValues.get(archName);
  if (arch === undefined) throw new UsageError(`revision ${model.abi.revision} has no arch ${archName}`);
  let archVcpuOffs = 0;
  let archVcpuSize = 0;
  if (archName === 'x86_64') {
    if (!model.vcpuArch) throw new UsageError('this revision defines no x86 arch block');
    archVcpuOffs = roundUp(model.vcpuSize, CACHE_LINE);
    archVcpuSize = model.vcpuArch.size;
  }
  const vcpuExtent = archVcpuSize ? archVcpuOffs + archVcpuSize : model.vcpuSize;
  const packing = options.packing ?? defaultPacking;
  const { vcpuOffset, vcpuStride, regionSize } = packing(model.domSize, vcpuExtent, nrVcpus, pageSize);
  return {
    magic: model.domMagic,
    revision: model.abi.revision,
    domSize: model.domSize,
    vcpuOffs: vcpuOffset,
    vcpuSize: model.vcpuSize,
    vcpuStride,
    nrVcpus,
    pageSize,
    regionSize,
    domActive: activeWord(model, 'dom', options.domGroups),
    vcpuActive: activeWord(model, 'vcpu', options.vcpuGroups),
    arch,
    archDomOffs: 0,
    archDomSize: 0,
    archVcpuOffs,
    archVcpuSize,
  };
}
