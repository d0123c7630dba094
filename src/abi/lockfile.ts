/**
 * Lock files: one frozen revision of an ABI, as JSON.
 *
 * A lock file is input like any other — it may be truncated, bit-flipped or
 * hand-edited — so parseLock validates every value against the shape the
 * layout engine produces (resolved.ts) and throws a FormatError naming the
 * JSON path (`structs[2].fields[5].offset`) and the rule. The validated object
 * is returned as parsed, so serializeLock(parseLock(text)) reproduces the text.
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
  type ResolvedField,
  type ResolvedFieldKind,
} from './resolved.ts';
import { INT_TYPES, type IntType, intWidth } from './schema.ts';

/** Lock files larger than this are refused before parsing. */
export const MAX_LOCK_BYTES = 4 * 1024 * 1024;
/** Bound on every list in a lock file (structs, fields, values …). */
const MAX_LIST = 65536;
/** Same bound as the layout engine: a struct never exceeds 16 MiB. */
const MAX_STRUCT_SIZE = 1 << 24;
const MAX_IDENT = 128;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PAD_NAME = /^_pad[0-9]{1,6}$/;
/** Canonical decimal integers only: no sign on zero, no leading zeros, at most 20 digits. */
const DECIMAL = /^(0|-?[1-9][0-9]{0,19})$/;

const FIELD_KINDS: readonly ResolvedFieldKind[] = [
  'int',
  'array',
  'char',
  'reserved',
  'magic',
  'seq',
  'struct',
  'retired',
  'pad',
];
const STAT_TYPES = ['cumulative', 'instant', 'peak', 'linear-hist', 'log-hist'] as const;
const STAT_UNITS = ['none', 'bytes', 'seconds', 'cycles', 'boolean'] as const;
const STAT_BASES = ['pow10', 'pow2'] as const;

const COMMON_FIELD_KEYS = ['name', 'kind', 'offset', 'size', 'align', 'count', 'doc'];
/** Keys each field kind may carry beyond the common ones: [required, optional]. */
const KIND_KEYS: Record<ResolvedFieldKind, [string[], string[]]> = {
  int: [
    ['type', 'default'],
    ['enum', 'flags', 'stat', 'inactiveWhenAllOnes', 'renamedFrom'],
  ],
  array: [['type'], ['stat', 'inactiveWhenAllOnes', 'renamedFrom']],
  char: [[], ['renamedFrom']],
  reserved: [[], []],
  retired: [[], []],
  pad: [[], []],
  magic: [['type', 'constant'], ['renamedFrom']],
  seq: [['type'], ['renamedFrom']],
  struct: [['struct'], ['group', 'renamedFrom']],
};

type Obj = Record<string, unknown>;

/** A short, bounded rendering of an offending value for error messages. */
function render(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'object';
  return String(value);
}

function intRange(type: IntType): [bigint, bigint] {
  const bits = BigInt(intWidth(type) * 8);
  return type.startsWith('u') ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Validation primitives that know where they are in the document. */
class LockReader {
  readonly format: string;
  constructor(where: string) {
    this.format = `lock ${where}`;
  }

  fail(path: string, rule: string, message: string, value?: unknown): never {
    throw new FormatError(
      this.format,
      path === '' ? '(root)' : path,
      rule,
      message,
      value === undefined ? undefined : render(value),
    );
  }

  plain(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'type', 'expected an object', v);
    return v as Obj;
  }

  object(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
    const o = this.plain(v, path);
    for (const key of Object.keys(o)) {
      if (!required.includes(key) && !optional.includes(key)) {
        this.fail(join(path, key), 'unknown-key', 'not part of the lock format');
      }
    }
    for (const key of required) {
      if (!Object.hasOwn(o, key)) this.fail(join(path, key), 'missing', 'required key is absent');
    }
    return o;
  }

  list(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'type', 'expected an array', v);
    if (v.length > MAX_LIST) this.fail(path, 'too-many', `more than ${MAX_LIST} entries`, v.length);
    return v;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'type', 'expected a string', v);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'type', 'expected a boolean', v);
    return v;
  }

  ident(v: unknown, path: string): string {
    const s = this.string(v, path);
    if (s.length > MAX_IDENT || !IDENT.test(s)) this.fail(path, 'identifier', 'not a C identifier', s);
    return s;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number') this.fail(path, 'type', 'expected a number', v);
    if (!Number.isSafeInteger(v)) this.fail(path, 'not-integer', 'expected an integer', v);
    if (v < min || v > max) this.fail(path, 'range', `must be in ${min}..${max}`, v);
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, options: readonly T[], rule = 'unknown-value'): T {
    const s = this.string(v, path);
    if (!(options as readonly string[]).includes(s)) this.fail(path, rule, `expected one of ${options.join(', ')}`, s);
    return s as T;
  }

  /** A decimal-string integer that fits in `type`. */
  decimal(v: unknown, path: string, type: IntType): string {
    const s = this.string(v, path);
    if (!DECIMAL.test(s)) this.fail(path, 'not-decimal', 'expected a canonical decimal integer string', s);
    const n = BigInt(s);
    const [lo, hi] = intRange(type);
    if (n < lo || n > hi) this.fail(path, 'range', `does not fit in ${type}`, s);
    return s;
  }

  unique(names: string[], paths: string[], rule: string, what: string): void {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) this.fail(paths[i] ?? '(root)', rule, `${what} ${n} appears twice`, n);
      seen.add(n);
    });
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Parse and validate one lock file; `where` names it in errors (usually its path). */
export function parseLock(text: string, where: string): ResolvedAbi {
  const r = new LockReader(where);
  if (typeof text !== 'string') r.fail('(file)', 'type', 'lock file content must be text');
  // Characters are at least one byte each, so the cheap length test comes first.
  if (text.length > MAX_LOCK_BYTES || Buffer.byteLength(text, 'utf8') > MAX_LOCK_BYTES) {
    r.fail('(file)', 'too-large', `lock files are limited to ${MAX_LOCK_BYTES} bytes`, text.length);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    r.fail('(file)', 'json-syntax', e instanceof Error ? e.message : 'invalid JSON');
  }
  validateAbi(r, doc);
  return doc as ResolvedAbi;
}

/** The canonical text of a lock file. */
export function serializeLock(abi: ResolvedAbi): string {
  return `${JSON.stringify(abi, null, 2)}\n`;
}

function validateAbi(r: LockReader, doc: unknown): void {
  const top = r.object(doc, '', [
    'format',
    'formatVersion',
    'abi',
    'doc',
    'major',
    'revision',
    'constants',
    'enums',
    'structs',
    'records',
  ]);
  if (top.format !== LOCK_FORMAT) r.fail('format', 'format', `expected ${LOCK_FORMAT}`, top.format);
  if (top.formatVersion !== LOCK_FORMAT_VERSION) {
    r.fail('formatVersion', 'format-version', `expected ${LOCK_FORMAT_VERSION}`, top.formatVersion);
  }
  const name = r.string(top.abi, 'abi');
  if (!isAbiName(name)) r.fail('abi', 'abi-name', 'ABI names are kebab-case', name);
  r.string(top.doc, 'doc');
  r.int(top.major, 'major', MIN_MAJOR, MAX_MAJOR); // majors start at 1
  r.int(top.revision, 'revision', 0, 0xffffff);

  const constants = validateConstants(r, top.constants);
  const enums = validateEnums(r, top.enums);
  const structs = validateStructs(r, top.structs, constants, enums);
  validateRecords(r, top.records, structs);
}

function validateConstants(r: LockReader, v: unknown): Set<string> {
  const list = r.list(v, 'constants');
  const names: string[] = [];
  list.forEach((c, i) => {
    const p = `constants[${i}]`;
    const o = r.object(c, p, ['name', 'doc', 'type', 'value', 'kind']);
    names.push(r.ident(o.name, `${p}.name`));
    r.string(o.doc, `${p}.doc`);
    const type = r.oneOf(o.type, `${p}.type`, INT_TYPES, 'unknown-type');
    r.decimal(o.value, `${p}.value`, type);
    r.oneOf(o.kind, `${p}.kind`, ['magic', 'const'] as const, 'unknown-kind');
  });
  r.unique(
    names,
    names.map((_, i) => `constants[${i}].name`),
    'duplicate-name',
    'constant',
  );
  return new Set(names);
}

/** Enum and flags names mapped to their kind. */
function validateEnums(r: LockReader, v: unknown): Map<string, 'enum' | 'flags'> {
  const list = r.list(v, 'enums');
  const kinds = new Map<string, 'enum' | 'flags'>();
  const names: string[] = [];
  list.forEach((e, i) => {
    const p = `enums[${i}]`;
    const o = r.object(e, p, ['name', 'doc', 'kind', 'type', 'values']);
    const name = r.ident(o.name, `${p}.name`);
    r.string(o.doc, `${p}.doc`);
    const kind = r.oneOf(o.kind, `${p}.kind`, ['enum', 'flags'] as const, 'unknown-kind');
    const type = r.oneOf(o.type, `${p}.type`, INT_TYPES, 'unknown-type');
    const values = r.list(o.values, `${p}.values`);
    const bits = intWidth(type) * 8;
    const [lo, hi] = intRange(type);
    const valueNames: string[] = [];
    const numbers: string[] = [];
    values.forEach((ev, j) => {
      const q = `${p}.values[${j}]`;
      const vo = r.object(ev, q, ['name', 'value', 'doc', 'retired']);
      valueNames.push(r.ident(vo.name, `${q}.name`));
      const value =
        kind === 'flags'
          ? r.int(vo.value, `${q}.value`, 0, bits - 1)
          : r.int(vo.value, `${q}.value`, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      if (kind === 'enum' && (BigInt(value) < lo || BigInt(value) > hi)) {
        r.fail(`${q}.value`, 'range', `does not fit in ${type}`, value);
      }
      numbers.push(String(value));
      r.string(vo.doc, `${q}.doc`);
      r.bool(vo.retired, `${q}.retired`);
    });
    const paths = (key: string) => values.map((_, j) => `${p}.values[${j}].${key}`);
    r.unique(valueNames, paths('name'), 'duplicate-name', 'value name');
    r.unique(numbers, paths('value'), 'duplicate-value', 'value');
    names.push(name);
    kinds.set(name, kind);
  });
  r.unique(
    names,
    names.map((_, i) => `enums[${i}].name`),
    'duplicate-name',
    'enum',
  );
  return kinds;
}

interface StructHeader {
  size: number;
  align: number;
  hasSeq: boolean;
}

/** Validates every struct; returns the struct names. */
function validateStructs(
  r: LockReader,
  v: unknown,
  constants: Set<string>,
  enums: Map<string, 'enum' | 'flags'>,
): Set<string> {
  const list = r.list(v, 'structs');
  // Pass 1: the headers, so that nested struct references can be checked in any order.
  const headers = new Map<string, StructHeader>();
  const objects = list.map((s, i) => {
    const p = `structs[${i}]`;
    const o = r.object(s, p, ['name', 'doc', 'size', 'align', 'sizing', 'fields'], ['seqField']);
    const name = r.ident(o.name, `${p}.name`);
    if (headers.has(name)) r.fail(`${p}.name`, 'duplicate-name', `struct ${name} appears twice`, name);
    r.string(o.doc, `${p}.doc`);
    const size = r.int(o.size, `${p}.size`, 1, MAX_STRUCT_SIZE);
    const align = r.int(o.align, `${p}.align`, 1, MAX_STRUCT_SIZE);
    if (!isPowerOfTwo(align)) r.fail(`${p}.align`, 'align', 'must be a power of two', align);
    if (size % align !== 0) r.fail(`${p}.size`, 'size-align', `must be a multiple of the alignment ${align}`, size);
    r.oneOf(o.sizing, `${p}.sizing`, ['fixed', 'versioned'] as const, 'unknown-sizing');
    headers.set(name, { size, align, hasSeq: o.seqField !== undefined });
    return o;
  });
  // Pass 2: the fields.
  const edges = new Map<string, string[]>();
  objects.forEach((o, i) => {
    const name = o.name as string;
    edges.set(name, validateFields(r, `structs[${i}]`, o, headers, constants, enums));
  });
  const names = [...headers.keys()];
  boundNesting(r, names, edges, rejectCycles(r, names, edges));
  return new Set(headers.keys());
}

function validateFields(
  r: LockReader,
  p: string,
  s: Obj,
  headers: Map<string, StructHeader>,
  constants: Set<string>,
  enums: Map<string, 'enum' | 'flags'>,
): string[] {
  const size = s.size as number;
  const fields = r.list(s.fields, `${p}.fields`);
  if (fields.length === 0) r.fail(`${p}.fields`, 'empty', 'a struct has at least one field');
  const nested: string[] = [];
  const names: string[] = [];
  const bits: string[] = [];
  const bitPaths: string[] = [];
  let end = 0;
  let lastOffset = -1;
  fields.forEach((f, j) => {
    const q = `${p}.fields[${j}]`;
    const field = validateField(r, q, f, headers, constants, enums);
    names.push(field.name);
    if (field.offset <= lastOffset) r.fail(`${q}.offset`, 'offsets-not-increasing', 'offsets must increase');
    if (field.offset < end) r.fail(`${q}.offset`, 'overlap', `overlaps the previous field ending at ${end}`);
    if (field.offset > end) r.fail(`${q}.offset`, 'gap', `bytes ${end}..${field.offset} belong to no field`);
    if (field.offset + field.size > size) {
      r.fail(`${q}.size`, 'field-outside-struct', `ends at ${field.offset + field.size}, past the struct size ${size}`);
    }
    lastOffset = field.offset;
    end = field.offset + field.size;
    if (field.struct !== undefined) nested.push(field.struct);
    if (field.group !== undefined) {
      bits.push(String(field.group.bit));
      bitPaths.push(`${q}.group.bit`);
    }
  });
  if (end !== size) r.fail(`${p}.size`, 'gap', `fields end at ${end}, before the struct size`, size);
  r.unique(
    names,
    names.map((_, j) => `${p}.fields[${j}].name`),
    'duplicate-name',
    'field',
  );
  r.unique(bits, bitPaths, 'duplicate-value', 'group bit');
  if (s.seqField !== undefined) {
    const seqName = r.ident(s.seqField, `${p}.seqField`);
    const seqField = (fields as ResolvedField[]).find((f) => f.name === seqName);
    if (seqField?.kind !== 'seq') r.fail(`${p}.seqField`, 'seq-field', 'must name a seq field', seqName);
  }
  return nested;
}

function validateField(
  r: LockReader,
  q: string,
  f: unknown,
  headers: Map<string, StructHeader>,
  constants: Set<string>,
  enums: Map<string, 'enum' | 'flags'>,
): ResolvedField {
  // The kind decides which keys are allowed, so it is read before the key check.
  const kind = r.oneOf(r.plain(f, q).kind, `${q}.kind`, FIELD_KINDS, 'unknown-kind');
  const [required, optional] = KIND_KEYS[kind];
  const o = r.object(f, q, [...COMMON_FIELD_KEYS, ...required], optional);
  const name = r.ident(o.name, `${q}.name`);
  if ((kind === 'pad') !== PAD_NAME.test(name)) {
    r.fail(`${q}.name`, 'pad-name', 'padding, and only padding, is named _padN', name);
  }
  const offset = r.int(o.offset, `${q}.offset`, 0, MAX_STRUCT_SIZE);
  const size = r.int(o.size, `${q}.size`, 1, MAX_STRUCT_SIZE);
  const align = r.int(o.align, `${q}.align`, 1, MAX_STRUCT_SIZE);
  if (!isPowerOfTwo(align)) r.fail(`${q}.align`, 'align', 'must be a power of two', align);
  if (offset % align !== 0) r.fail(`${q}.offset`, 'misaligned', `not a multiple of the alignment ${align}`, offset);
  const count = r.int(o.count, `${q}.count`, 1, MAX_STRUCT_SIZE);
  r.string(o.doc, `${q}.doc`);

  /** Checks the field's size against its element size and count, and its alignment. */
  const shape = (element: number, expectedAlign: number) => {
    if (element * count !== size) r.fail(`${q}.size`, 'size-mismatch', `expected ${count} × ${element} bytes`, size);
    if (align !== expectedAlign) r.fail(`${q}.align`, 'align', `expected ${expectedAlign}`, align);
  };
  const scalar = () => {
    if (count !== 1) r.fail(`${q}.count`, 'range', 'a scalar has count 1', count);
  };
  const type = () => r.oneOf(o.type, `${q}.type`, INT_TYPES, 'unknown-type');

  switch (kind) {
    case 'int': {
      const t = type();
      scalar();
      shape(intWidth(t), intWidth(t));
      r.decimal(o.default, `${q}.default`, t);
      for (const key of ['enum', 'flags'] as const) {
        if (o[key] === undefined) continue;
        const ref = r.ident(o[key], `${q}.${key}`);
        if (enums.get(ref) !== key) r.fail(`${q}.${key}`, `unknown-${key}`, `${key} ${ref} is not defined`, ref);
      }
      validateStat(r, q, o, count);
      break;
    }
    case 'array': {
      const t = type();
      shape(intWidth(t), intWidth(t));
      validateStat(r, q, o, count);
      break;
    }
    case 'char':
    case 'reserved':
    case 'pad':
      shape(1, 1);
      break;
    case 'retired':
      shape(1, align);
      break;
    case 'magic': {
      const t = type();
      scalar();
      shape(intWidth(t), intWidth(t));
      const ref = r.ident(o.constant, `${q}.constant`);
      if (!constants.has(ref)) r.fail(`${q}.constant`, 'unknown-constant', `constant ${ref} is not defined`, ref);
      break;
    }
    case 'seq': {
      const t = r.oneOf(o.type, `${q}.type`, ['u32', 'u64'] as const, 'seq-type');
      scalar();
      shape(intWidth(t), intWidth(t));
      break;
    }
    case 'struct': {
      const ref = r.ident(o.struct, `${q}.struct`);
      const inner = headers.get(ref);
      if (!inner) r.fail(`${q}.struct`, 'unknown-struct', `struct ${ref} is not defined`, ref);
      shape(inner.size, inner.align);
      if (o.group !== undefined) {
        const g = r.object(o.group, `${q}.group`, ['bit']);
        r.int(g.bit, `${q}.group.bit`, 0, 63);
        if (!inner.hasSeq) r.fail(`${q}.group`, 'group-seq', `group struct ${ref} has no seqField`);
      }
      break;
    }
  }
  if (o.inactiveWhenAllOnes !== undefined) r.bool(o.inactiveWhenAllOnes, `${q}.inactiveWhenAllOnes`);
  if (o.renamedFrom !== undefined) {
    r.list(o.renamedFrom, `${q}.renamedFrom`).forEach((n, k) => {
      r.ident(n, `${q}.renamedFrom[${k}]`);
    });
  }
  return o as unknown as ResolvedField;
}

function validateStat(r: LockReader, q: string, o: Obj, count: number): void {
  if (o.stat === undefined) return;
  const p = `${q}.stat`;
  const st = r.object(o.stat, p, ['type', 'unit', 'base', 'exponent'], ['bucketSize']);
  const type = r.oneOf(st.type, `${p}.type`, STAT_TYPES, 'unknown-stat-type');
  r.oneOf(st.unit, `${p}.unit`, STAT_UNITS, 'unknown-unit');
  r.oneOf(st.base, `${p}.base`, STAT_BASES, 'unknown-base');
  r.int(st.exponent, `${p}.exponent`, -32768, 32767);
  const hist = type === 'linear-hist' || type === 'log-hist';
  if (hist !== count > 1) r.fail(`${p}.type`, 'stat-shape', 'histograms are arrays, scalars are not', type);
  if (st.bucketSize !== undefined) r.int(st.bucketSize, `${p}.bucketSize`, 1, Number.MAX_SAFE_INTEGER);
  if ((type === 'linear-hist') !== (st.bucketSize !== undefined)) {
    r.fail(`${p}.bucketSize`, 'stat-bucket-size', 'bucketSize is required for, and only for, linear histograms');
  }
}

/**
 * Kahn's algorithm (iterative, so no stack depth depends on the input): a struct may not contain
 * itself. Returns the structs outermost first (every struct before the structs it contains).
 */
function rejectCycles(r: LockReader, names: string[], edges: Map<string, string[]>): string[] {
  const indegree = new Map<string, number>(names.map((n) => [n, 0]));
  for (const targets of edges.values()) {
    for (const t of targets) indegree.set(t, (indegree.get(t) ?? 0) + 1);
  }
  const ready = names.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.pop() as string;
    order.push(n);
    for (const t of edges.get(n) ?? []) {
      const d = (indegree.get(t) ?? 0) - 1;
      indegree.set(t, d);
      if (d === 0) ready.push(t);
    }
  }
  if (order.length !== names.length) {
    const i = names.findIndex((n) => (indegree.get(n) ?? 0) > 0);
    r.fail(`structs[${i}]`, 'recursive-struct', 'a struct contains itself', names[i]);
  }
  return order;
}

/**
 * Refuses structs nested deeper than MAX_STRUCT_NESTING, innermost first (`outermostFirst`
 * reversed), without recursion: every reader, generator and codec that later walks nested
 * structs recursively then recurses a bounded number of times.
 */
function boundNesting(r: LockReader, names: string[], edges: Map<string, string[]>, outermostFirst: string[]): void {
  const depth = new Map<string, number>();
  for (let k = outermostFirst.length - 1; k >= 0; k--) {
    const name = outermostFirst[k] as string;
    let d = 1;
    for (const inner of edges.get(name) ?? []) d = Math.max(d, (depth.get(inner) ?? 1) + 1);
    if (d > MAX_STRUCT_NESTING) {
      r.fail(
        `structs[${names.indexOf(name)}]`,
        'nesting-too-deep',
        `struct ${name} nests structs more than ${MAX_STRUCT_NESTING} deep`,
        name,
      );
    }
    depth.set(name, d);
  }
}

function validateRecords(r: LockReader, v: unknown, structs: Set<string>): void {
  const list = r.list(v, 'records');
  const names: string[] = [];
  const types: string[] = [];
  list.forEach((rec, i) => {
    const p = `records[${i}]`;
    const o = r.object(rec, p, ['name', 'doc', 'type', 'mandatory', 'struct', 'retired']);
    names.push(r.ident(o.name, `${p}.name`));
    r.string(o.doc, `${p}.doc`);
    types.push(String(r.int(o.type, `${p}.type`, 0, 0xffffffff)));
    r.bool(o.mandatory, `${p}.mandatory`);
    const ref = r.ident(o.struct, `${p}.struct`);
    if (!structs.has(ref)) r.fail(`${p}.struct`, 'unknown-struct', `struct ${ref} is not defined`, ref);
    r.bool(o.retired, `${p}.retired`);
  });
  r.unique(
    names,
    names.map((_, i) => `records[${i}].name`),
    'duplicate-name',
    'record',
  );
  r.unique(
    types,
    types.map((_, i) => `records[${i}].type`),
    'duplicate-value',
    'record type',
  );
}
