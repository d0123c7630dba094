/**
 * The layout engine: turns an AbiSpec into a ResolvedAbi.
 *
 * Layout follows the C rules of the x86-64 System V ABI (natural alignment,
 * struct alignment = largest member alignment, size a multiple of it), but
 * every byte of padding is made explicit as a `pad` field so that the
 * generated C header describes the same bytes on any compiler and target.
 */
import { FormatError } from '../errors.ts';
import { isAbiName } from './abi-name.ts';
import {
  LOCK_FORMAT,
  LOCK_FORMAT_VERSION,
  MAX_MAJOR,
  MAX_STRUCT_NESTING,
  MIN_MAJOR,
  type ResolvedAbi,
  type ResolvedEnum,
  type ResolvedField,
  type ResolvedStruct,
} from './resolved.ts';
import { type AbiSpec, type FieldSpec, INT_TYPES, type IntType, intWidth, type StructSpec } from './schema.ts';

export const CACHE_LINE = 64;
export const PAGE_SIZE = 4096;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Bound on any single struct so that resolved sizes stay far below 2^32. */
const MAX_STRUCT_SIZE = 1 << 24;

export function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function schemaError(abi: string, field: string, rule: string, message: string, value?: unknown): FormatError {
  return new FormatError(`schema ${abi}`, field, rule, message, value === undefined ? undefined : String(value));
}

function intRange(type: IntType): [bigint, bigint] {
  const bits = BigInt(intWidth(type) * 8);
  return type.startsWith('u') ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

function checkIntValue(abi: string, where: string, type: IntType, value: number | bigint): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw schemaError(abi, where, 'value-not-integer', 'values must be safe integers or bigints', value);
  }
  const v = BigInt(value);
  const [lo, hi] = intRange(type);
  if (v < lo || v > hi) throw schemaError(abi, where, 'value-out-of-range', `does not fit in ${type}`, v);
  return v.toString();
}

/** Resolve a schema; throws FormatError naming the struct/field and rule for an invalid schema. */
export function resolveAbi(spec: AbiSpec, revision = 0): ResolvedAbi {
  const abi = spec.name;
  if (!isAbiName(abi)) throw schemaError(abi, 'name', 'abi-name', 'ABI names are kebab-case', abi);
  if (!Number.isInteger(spec.major) || spec.major < MIN_MAJOR || spec.major > MAX_MAJOR) {
    throw schemaError(abi, 'major', 'major-range', `majors are integers in ${MIN_MAJOR}..${MAX_MAJOR}`, spec.major);
  }
  if (spec.majorSince !== undefined && (!Number.isInteger(spec.majorSince) || spec.majorSince < 1)) {
    throw schemaError(abi, 'majorSince', 'major-since-range', 'a revision number (from 1)', spec.majorSince);
  }

  const constants = (spec.constants ?? []).map((c) => {
    if (!IDENT.test(c.name)) throw schemaError(abi, `const ${c.name}`, 'identifier', 'not a C identifier');
    return { name: c.name, doc: c.doc, type: c.type, kind: c.kind, value: checkIntValue(abi, c.name, c.type, c.value) };
  });
  unique(
    abi,
    'constants',
    constants.map((c) => c.name),
  );

  const enums: ResolvedEnum[] = (spec.enums ?? []).map((e) => {
    if (!IDENT.test(e.name)) throw schemaError(abi, `enum ${e.name}`, 'identifier', 'not a C identifier');
    if (!INT_TYPES.includes(e.type)) throw schemaError(abi, `enum ${e.name}`, 'type', 'unknown integer type', e.type);
    const bits = intWidth(e.type) * 8;
    for (const v of e.values) {
      if (!IDENT.test(v.name)) throw schemaError(abi, `${e.name}.${v.name}`, 'identifier', 'not a C identifier');
      if (!Number.isSafeInteger(v.value)) throw schemaError(abi, `${e.name}.${v.name}`, 'value-not-integer', '');
      if (e.kind === 'flags' && (v.value < 0 || v.value >= bits)) {
        throw schemaError(abi, `${e.name}.${v.name}`, 'bit-out-of-range', `bit must be in 0..${bits - 1}`, v.value);
      }
      if (e.kind === 'enum') checkIntValue(abi, `${e.name}.${v.name}`, e.type, v.value);
    }
    unique(
      abi,
      `enum ${e.name}`,
      e.values.map((v) => v.name),
    );
    unique(
      abi,
      `enum ${e.name} values`,
      e.values.map((v) => String(v.value)),
    );
    return {
      name: e.name,
      doc: e.doc,
      kind: e.kind,
      type: e.type,
      values: e.values.map((v) => ({ name: v.name, value: v.value, doc: v.doc, retired: v.retired ?? false })),
    };
  });
  unique(
    abi,
    'enums',
    enums.map((e) => e.name),
  );

  const specs = new Map<string, StructSpec>();
  for (const s of spec.structs) {
    if (!IDENT.test(s.name)) throw schemaError(abi, `struct ${s.name}`, 'identifier', 'not a C identifier');
    if (specs.has(s.name)) throw schemaError(abi, `struct ${s.name}`, 'duplicate', 'struct defined twice');
    specs.set(s.name, s);
  }

  const resolved = new Map<string, ResolvedStruct>();
  /** Nesting depth of each resolved struct: 1 for plain fields, 1 + its deepest nested struct. */
  const depths = new Map<string, number>();
  /** The chain of structs being laid out, outermost first; its length bounds the recursion. */
  const visiting: string[] = [];
  const ctx = { abi, constants: new Set(constants.map((c) => c.name)), enums };
  const tooDeep = (outer: string) =>
    schemaError(
      abi,
      `struct ${outer}`,
      'nesting-too-deep',
      `struct ${outer} nests structs more than ${MAX_STRUCT_NESTING} deep`,
      outer,
    );

  const resolveStruct = (name: string, from: string): ResolvedStruct => {
    const done = resolved.get(name);
    if (done) {
      if (visiting.length + (depths.get(name) ?? 1) > MAX_STRUCT_NESTING) throw tooDeep(visiting[0] ?? name);
      return done;
    }
    const s = specs.get(name);
    if (!s) throw schemaError(abi, from, 'unknown-struct', `struct ${name} is not defined`, name);
    if (visiting.includes(name))
      throw schemaError(abi, `struct ${name}`, 'recursive-struct', 'a struct contains itself');
    // Checked before recursing, so a deep schema is refused instead of overflowing the stack.
    if (visiting.length >= MAX_STRUCT_NESTING) throw tooDeep(visiting[0] ?? name);
    visiting.push(name);
    const r = layoutStruct(s, ctx, resolveStruct);
    visiting.pop();
    let depth = 1;
    for (const f of r.fields) if (f.struct !== undefined) depth = Math.max(depth, (depths.get(f.struct) ?? 1) + 1);
    depths.set(name, depth);
    resolved.set(name, r);
    return r;
  };
  const structs = spec.structs.map((s) => resolveStruct(s.name, s.name));

  const records = (spec.records ?? []).map((r) => {
    if (!Number.isInteger(r.type) || r.type < 0 || r.type > 0xffffffff) {
      throw schemaError(abi, `record ${r.name}`, 'record-type-range', 'record type must be a u32', r.type);
    }
    if (!resolved.has(r.struct)) throw schemaError(abi, `record ${r.name}`, 'unknown-struct', '', r.struct);
    return {
      name: r.name,
      doc: r.doc,
      type: r.type,
      mandatory: r.mandatory,
      struct: r.struct,
      retired: r.retired ?? false,
    };
  });
  unique(
    abi,
    'records',
    records.map((r) => r.name),
  );
  unique(
    abi,
    'record types',
    records.map((r) => String(r.type)),
  );

  return {
    format: LOCK_FORMAT,
    formatVersion: LOCK_FORMAT_VERSION,
    abi,
    doc: spec.doc,
    major: spec.major,
    revision,
    constants,
    enums,
    structs,
    records,
  };
}

function unique(abi: string, where: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw schemaError(abi, where, 'duplicate-name', `${n} appears twice`, n);
    seen.add(n);
  }
}

interface LayoutContext {
  abi: string;
  constants: Set<string>;
  enums: ResolvedEnum[];
}

function layoutStruct(
  s: StructSpec,
  ctx: LayoutContext,
  resolveStruct: (name: string, from: string) => ResolvedStruct,
): ResolvedStruct {
  const { abi } = ctx;
  const fields: ResolvedField[] = [];
  let offset = 0;
  let maxAlign = 1;
  let pads = 0;

  const addPad = (size: number) => {
    fields.push({ name: `_pad${pads++}`, kind: 'pad', offset, size, align: 1, count: size, doc: 'Padding.' });
    offset += size;
  };

  for (const f of s.fields) {
    const where = `${s.name}.${f.name}`;
    if (!IDENT.test(f.name)) throw schemaError(abi, where, 'identifier', 'not a C identifier');
    if (f.name.startsWith('_pad')) throw schemaError(abi, where, 'reserved-name', '_pad* names are the engine’s');
    const { size, align, extra } = measureField(f, where, ctx, resolveStruct);
    if (offset % align !== 0) addPad(align - (offset % align));
    maxAlign = Math.max(maxAlign, align);
    fields.push({ name: f.name, offset, size, align, doc: f.doc, ...extra });
    offset += size;
    if (offset > MAX_STRUCT_SIZE) throw schemaError(abi, where, 'struct-too-large', 'struct exceeds 16 MiB', offset);
  }
  unique(
    abi,
    `struct ${s.name}`,
    fields.map((f) => f.name),
  );

  if (s.align !== undefined) {
    if (!isPowerOfTwo(s.align)) throw schemaError(abi, `struct ${s.name}`, 'align', 'must be a power of two', s.align);
    maxAlign = Math.max(maxAlign, s.align);
  }
  let size = roundUp(offset, maxAlign);
  if (s.sizeRound !== undefined) {
    if (!isPowerOfTwo(s.sizeRound)) {
      throw schemaError(abi, `struct ${s.name}`, 'size-round', 'must be a power of two', s.sizeRound);
    }
    size = roundUp(size, s.sizeRound);
  }
  if (size > offset) addPad(size - offset);

  if (s.seqField !== undefined) {
    const seqField = fields.find((f) => f.name === s.seqField);
    if (seqField?.kind !== 'seq') {
      throw schemaError(abi, `struct ${s.name}`, 'seq-field', 'seqField must name a seq field', s.seqField);
    }
  }
  const bits = fields.filter((f) => f.group).map((f) => String(f.group?.bit));
  unique(abi, `struct ${s.name} group bits`, bits);

  return {
    name: s.name,
    doc: s.doc,
    size,
    align: maxAlign,
    sizing: s.sizing,
    ...(s.seqField === undefined ? {} : { seqField: s.seqField }),
    fields,
  };
}

type FieldExtra = Omit<ResolvedField, 'name' | 'offset' | 'size' | 'align' | 'doc'>;

function measureField(
  f: FieldSpec,
  where: string,
  ctx: LayoutContext,
  resolveStruct: (name: string, from: string) => ResolvedStruct,
): { size: number; align: number; extra: FieldExtra } {
  const { abi } = ctx;
  const renamed = 'renamedFrom' in f && f.renamedFrom?.length ? { renamedFrom: [...f.renamedFrom] } : {};
  const checkLength = (n: number) => {
    if (!Number.isInteger(n) || n < 1 || n > MAX_STRUCT_SIZE) {
      throw schemaError(abi, where, 'length', 'length must be an integer ≥ 1', n);
    }
  };
  const checkType = (t: IntType) => {
    if (!INT_TYPES.includes(t)) throw schemaError(abi, where, 'type', 'unknown integer type', t);
  };
  const stat = (spec: FieldSpec & { stat?: import('./schema.ts').StatSpec }, count: number) => {
    if (!spec.stat) return {};
    const st = spec.stat;
    const hist = st.type === 'linear-hist' || st.type === 'log-hist';
    if (hist !== count > 1)
      throw schemaError(abi, where, 'stat-shape', 'histograms are arrays, scalars are not', count);
    if ((st.type === 'linear-hist') !== (st.bucketSize !== undefined && st.bucketSize > 0)) {
      throw schemaError(abi, where, 'stat-bucket-size', 'bucketSize is required for, and only for, linear histograms');
    }
    return {
      stat: {
        type: st.type,
        unit: st.unit,
        base: st.base ?? 'pow10',
        exponent: st.exponent ?? 0,
        ...(st.bucketSize === undefined ? {} : { bucketSize: st.bucketSize }),
      },
    };
  };

  switch (f.kind) {
    case 'int': {
      checkType(f.type);
      const w = intWidth(f.type);
      if (f.enum !== undefined && !ctx.enums.some((e) => e.name === f.enum && e.kind === 'enum')) {
        throw schemaError(abi, where, 'unknown-enum', `enum ${f.enum} is not defined`, f.enum);
      }
      if (f.flags !== undefined && !ctx.enums.some((e) => e.name === f.flags && e.kind === 'flags')) {
        throw schemaError(abi, where, 'unknown-flags', `flags ${f.flags} is not defined`, f.flags);
      }
      return {
        size: w,
        align: w,
        extra: {
          kind: 'int',
          type: f.type,
          count: 1,
          default: checkIntValue(abi, where, f.type, f.default ?? 0),
          ...(f.enum === undefined ? {} : { enum: f.enum }),
          ...(f.flags === undefined ? {} : { flags: f.flags }),
          ...stat(f, 1),
          ...(f.inactiveWhenAllOnes ? { inactiveWhenAllOnes: true } : {}),
          ...renamed,
        },
      };
    }
    case 'array': {
      checkType(f.type);
      checkLength(f.length);
      const w = intWidth(f.type);
      return {
        size: w * f.length,
        align: w,
        extra: {
          kind: 'array',
          type: f.type,
          count: f.length,
          ...stat(f, f.length),
          ...(f.inactiveWhenAllOnes ? { inactiveWhenAllOnes: true } : {}),
          ...renamed,
        },
      };
    }
    case 'char':
      checkLength(f.length);
      return { size: f.length, align: 1, extra: { kind: 'char', count: f.length, ...renamed } };
    case 'reserved':
      checkLength(f.size);
      return { size: f.size, align: 1, extra: { kind: 'reserved', count: f.size } };
    case 'retired': {
      checkLength(f.size);
      const align = f.align ?? 1;
      if (!isPowerOfTwo(align)) throw schemaError(abi, where, 'align', 'must be a power of two', align);
      return { size: f.size, align, extra: { kind: 'retired', count: f.size } };
    }
    case 'magic': {
      checkType(f.type);
      if (!ctx.constants.has(f.constant)) {
        throw schemaError(abi, where, 'unknown-constant', `constant ${f.constant} is not defined`, f.constant);
      }
      const w = intWidth(f.type);
      return { size: w, align: w, extra: { kind: 'magic', type: f.type, count: 1, constant: f.constant, ...renamed } };
    }
    case 'seq': {
      if (f.type !== 'u32' && f.type !== 'u64') throw schemaError(abi, where, 'seq-type', 'must be u32 or u64', f.type);
      const w = intWidth(f.type);
      return { size: w, align: w, extra: { kind: 'seq', type: f.type, count: 1, ...renamed } };
    }
    case 'struct': {
      const inner = resolveStruct(f.struct, where);
      const count = f.length ?? 1;
      checkLength(count);
      if (f.group && (!Number.isInteger(f.group.bit) || f.group.bit < 0 || f.group.bit > 63)) {
        throw schemaError(abi, where, 'group-bit', 'group bit must be in 0..63', f.group.bit);
      }
      if (f.group && inner.seqField === undefined) {
        throw schemaError(abi, where, 'group-seq', `group struct ${inner.name} has no seqField`);
      }
      return {
        size: inner.size * count,
        align: inner.align,
        extra: {
          kind: 'struct',
          struct: inner.name,
          count,
          ...(f.group ? { group: { bit: f.group.bit } } : {}),
          ...renamed,
        },
      };
    }
  }
}

/**
 * The default packing of a domain statistics region (DESIGN §1): vCPU blocks start
 * at the domain block rounded to a cache line and are strided by their size rounded
 * to a cache line; once a block grows past half a page, both switch to page rounding
 * so that a producer may allocate vCPU blocks page by page.
 */
export function defaultPacking(
  domSize: number,
  vcpuSize: number,
  nrVcpus: number,
  pageSize = PAGE_SIZE,
): { vcpuOffset: number; vcpuStride: number; regionSize: number } {
  const large = domSize > pageSize / 2 || vcpuSize > pageSize / 2;
  const unit = large ? pageSize : CACHE_LINE;
  const vcpuOffset = roundUp(domSize, unit);
  const vcpuStride = roundUp(vcpuSize, unit);
  const regionSize = roundUp(vcpuOffset + nrVcpus * vcpuStride, pageSize);
  return { vcpuOffset, vcpuStride, regionSize };
}
