/**
 * Naming and wording shared by the generators (C header, Markdown docs).
 *
 * Both artefacts describe the same resolved ABI, so the C names, the type
 * spellings and the sentences that explain a field (statistics metadata,
 * enum/flags links, defaults, group bits) are computed here once and the two
 * generators only differ in how they lay the text out. The last section picks,
 * through the registry, what the committed artefacts describe.
 */
import { FormatError } from '../errors.ts';
import { DEFAULT_SCHEMAS_ROOT, loadAbi } from './registry.ts';
import type { ResolvedAbi, ResolvedEnum, ResolvedField, ResolvedStruct } from './resolved.ts';
import type { IntType } from './schema.ts';

// ---- names -----------------------------------------------------------------------------------

/** `kvm-stats` → `kvm_stats`. */
export function abiSnake(abi: string): string {
  return abi.replace(/-/g, '_');
}

/** The C macro for a name inside an ABI: `HVKIT_<ABI_SNAKE>_<PART>_<PART>…`, upper case. */
export function macroName(abi: string, ...parts: string[]): string {
  return ['HVKIT', abiSnake(abi), ...parts].join('_').toUpperCase();
}

/** The C tag of a struct: `hvkit_<abi_snake>_<struct>` (used as `struct <tag>`). */
export function cStructTag(abi: string, struct: string): string {
  return `hvkit_${abiSnake(abi)}_${struct}`;
}

export function cIncludeGuard(abi: string): string {
  return `${macroName(abi)}_H`;
}

export function constantMacro(abi: string, constant: string): string {
  return macroName(abi, constant);
}

/** Enum value, or a flag's mask (`(1ULL << bit)`). */
export function enumValueMacro(abi: string, enumName: string, value: string): string {
  return macroName(abi, enumName, value);
}

/** A flag's bit number. */
export function flagBitMacro(abi: string, enumName: string, value: string): string {
  return macroName(abi, enumName, value, 'BIT');
}

export function structSizeMacro(abi: string, struct: string): string {
  return macroName(abi, struct, 'SIZE');
}

/** Bit of a stats group in its parent's active-groups word, and its mask. */
export function groupBitMacro(abi: string, parent: string, field: string): string {
  return macroName(abi, parent, 'GROUP', field, 'BIT');
}

export function groupMaskMacro(abi: string, parent: string, field: string): string {
  return macroName(abi, parent, 'GROUP', field);
}

export function recordTypeMacro(abi: string, record: string): string {
  return macroName(abi, 'RECORD', record);
}

export function majorMacro(abi: string): string {
  return macroName(abi, 'ABI', 'MAJOR');
}

export function revisionMacro(abi: string): string {
  return macroName(abi, 'ABI', 'REVISION');
}

/**
 * Words a struct member may not be called in a header that must compile as C11 and C++17:
 * keywords of either language, macros of the standard headers a user is likely to include
 * next to ours, and the target macros GCC predefines in GNU modes.
 */
const C_RESERVED = new Set(
  (
    'alignas alignof and and_eq asm assert auto bitand bitor bool break case catch char char16_t char32_t ' +
    'char8_t class compl complex const const_cast consteval constexpr constinit continue co_await co_return ' +
    'co_yield decltype default delete do double dynamic_cast else enum errno explicit export extern false ' +
    'float for friend goto i386 if imaginary inline int linux long mutable namespace new noexcept noreturn not ' +
    'not_eq NULL nullptr offsetof operator or or_eq private protected public register reinterpret_cast ' +
    'requires restrict return short signed sizeof static static_assert static_cast struct switch template ' +
    'this thread_local throw true try typedef typeid typename union unix unsigned using virtual void volatile ' +
    'wchar_t while xor xor_eq'
  ).split(' '),
);

/** Throws when a member name would not compile (or would be a reserved identifier) in C or C++. */
export function checkMemberNames(abi: ResolvedAbi): void {
  for (const s of abi.structs) {
    for (const f of s.fields) {
      const reserved = C_RESERVED.has(f.name) || /^_[A-Z_]/.test(f.name) || f.name.includes('__');
      if (reserved) {
        throw new FormatError(
          `schema ${abi.abi}`,
          `${s.name}.${f.name}`,
          'c-reserved-name',
          'a C/C++ keyword, standard macro or reserved identifier cannot name a member',
        );
      }
    }
  }
}

/** One macro the header defines, with the value the compiler must agree on. */
export interface MacroValue {
  name: string;
  /** Exact value as a decimal string. */
  value: string;
  signed: boolean;
}

/**
 * Every value macro the C header defines, in header order. The generator uses it to
 * refuse name collisions; tests use it to compare what the compiler sees.
 */
export function headerMacros(abi: ResolvedAbi): MacroValue[] {
  const out: MacroValue[] = [];
  const add = (name: string, value: string | number | bigint, signed = false) =>
    out.push({ name, value: String(value), signed });
  add(majorMacro(abi.abi), abi.major);
  add(revisionMacro(abi.abi), abi.revision);
  for (const c of abi.constants) add(constantMacro(abi.abi, c.name), c.value, isSignedType(c.type));
  for (const e of abi.enums) {
    for (const v of liveValues(e)) {
      if (e.kind === 'enum') add(enumValueMacro(abi.abi, e.name, v.name), v.value, isSignedType(e.type));
      else {
        add(flagBitMacro(abi.abi, e.name, v.name), v.value);
        add(enumValueMacro(abi.abi, e.name, v.name), 1n << BigInt(v.value));
      }
    }
  }
  for (const r of abi.records) if (!r.retired) add(recordTypeMacro(abi.abi, r.name), r.type);
  for (const s of abi.structs) {
    add(structSizeMacro(abi.abi, s.name), s.size);
    for (const f of s.fields) {
      if (!f.group) continue;
      add(groupBitMacro(abi.abi, s.name, f.name), f.group.bit);
      add(groupMaskMacro(abi.abi, s.name, f.name), 1n << BigInt(f.group.bit));
    }
  }
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.name)) {
      throw new FormatError(`schema ${abi.abi}`, m.name, 'macro-collision', 'two names map to the same C macro');
    }
    seen.add(m.name);
  }
  return out;
}

export function liveValues(e: ResolvedEnum) {
  return e.values.filter((v) => !v.retired);
}

// ---- types -----------------------------------------------------------------------------------

export function isSignedType(type: IntType): boolean {
  return type.startsWith('s');
}

export function cIntType(type: IntType): string {
  return `${isSignedType(type) ? 'int' : 'uint'}${type.slice(1)}_t`;
}

/** The schema-level spelling of a field's type: `u64`, `u64[8]`, `char[16]`, `struct foo[4]`. */
export function schemaTypeOf(f: ResolvedField): string {
  const dim = (n: number) => (n > 1 || f.kind === 'array' ? `[${n}]` : '');
  switch (f.kind) {
    case 'int':
    case 'magic':
    case 'seq':
    case 'array':
      return `${f.type}${dim(f.count)}`;
    case 'struct':
      return `struct ${f.struct}${dim(f.count)}`;
    case 'char':
      return `char[${f.count}]`;
    default:
      return `u8[${f.size}]`;
  }
}

// ---- wording ---------------------------------------------------------------------------------

const STAT_TYPE_WORDS: Record<string, string> = {
  cumulative: 'cumulative (only grows)',
  instant: 'instantaneous (current value)',
  peak: 'peak (highest value seen)',
  'linear-hist': 'linear histogram',
  'log-hist': 'logarithmic (power-of-two) histogram',
};

/** One sentence with the statistic's metadata: type, unit, scale and buckets. */
export function describeStat(f: ResolvedField): string | undefined {
  const st = f.stat;
  if (!st) return undefined;
  const base = st.base === 'pow2' ? 2 : 10;
  const scale = st.exponent === 0 ? '' : ` (value × ${base}^${st.exponent}${st.unit === 'none' ? '' : ` ${st.unit}`})`;
  let text = `Statistic: ${STAT_TYPE_WORDS[st.type] ?? st.type}; unit ${st.unit}, base ${st.base}, exponent ${st.exponent}${scale}`;
  if (st.type === 'linear-hist') text += `; ${f.count} buckets of width ${st.bucketSize}`;
  if (st.type === 'log-hist') text += `; ${f.count} buckets`;
  return `${text}.`;
}

/** Short form of the stat metadata for table columns. */
export function statColumns(f: ResolvedField): { type: string; unit: string; scale: string; buckets: string } {
  const st = f.stat;
  if (!st) return { type: '', unit: '', scale: '', buckets: '' };
  const buckets =
    st.type === 'linear-hist' ? `${f.count} × ${st.bucketSize}` : st.type === 'log-hist' ? `${f.count} (log2)` : '';
  return { type: st.type, unit: st.unit, scale: `${st.base === 'pow2' ? 2 : 10}^${st.exponent}`, buckets };
}

export interface DescribeNames {
  /** How to refer to a constant/enum/flags/struct in the target text (macro or schema name). */
  constant(name: string): string;
  enumValues(enumName: string): string;
  flagValues(enumName: string): string;
  group(parent: string, field: string): string;
}

export interface DescribeOptions {
  /** Leave the statistics sentence out (when a table shows it in columns). */
  omitStat?: boolean;
}

/**
 * Everything worth saying about a field besides its own doc, as sentences: kind-specific
 * notes, statistics metadata, default, renames.
 */
export function fieldNotes(
  abi: ResolvedAbi,
  parent: ResolvedStruct,
  f: ResolvedField,
  names: DescribeNames,
  opts: DescribeOptions = {},
): string[] {
  const notes: string[] = [];
  switch (f.kind) {
    case 'magic':
      notes.push(`Must equal ${names.constant(f.constant ?? '')}.`);
      break;
    case 'seq':
      notes.push(
        parent.seqField === f.name
          ? 'Seqlock word of this group; never moves or resizes.'
          : 'Concurrency word: never moves or resizes.',
      );
      break;
    case 'reserved':
      notes.push('Later revisions may carve fields out of these bytes.');
      break;
    case 'retired':
      notes.push('Retired: the bytes stay reserved and the name may never be reused.');
      break;
    case 'char':
      if (!/nul/i.test(f.doc)) notes.push('NUL-padded.');
      break;
    case 'struct': {
      const inner = abi.structs.find((s) => s.name === f.struct);
      if (f.group) {
        notes.push(
          `Stats group at bit ${f.group.bit} (${names.group(parent.name, f.name)}) of the active-groups word` +
            (inner?.seqField ? `; sequence word ${inner.seqField}.` : '.'),
        );
      }
      break;
    }
  }
  if (f.enum !== undefined) notes.push(`Values: ${names.enumValues(f.enum)}.`);
  if (f.flags !== undefined) notes.push(`Bits: ${names.flagValues(f.flags)}.`);
  const stat = opts.omitStat ? undefined : describeStat(f);
  if (stat) notes.push(stat);
  if (f.inactiveWhenAllOnes) notes.push('All ones means the counter is inactive.');
  if (f.default !== undefined && f.default !== '0') notes.push(`Default ${f.default}.`);
  if (f.renamedFrom?.length) notes.push(`Formerly ${f.renamedFrom.join(', ')}.`);
  return notes;
}

/** The full description of a field: its doc followed by the notes (padding has a fixed one). */
export function fieldDescription(
  abi: ResolvedAbi,
  parent: ResolvedStruct,
  f: ResolvedField,
  names: DescribeNames,
  opts: DescribeOptions = {},
): string {
  if (f.kind === 'pad') return 'Padding; must be zero.';
  return [cleanText(f.doc).replace(/\s+/g, ' ').trim(), ...fieldNotes(abi, parent, f, names, opts)]
    .filter((t) => t !== '')
    .join(' ');
}

// ---- text ------------------------------------------------------------------------------------

/** Normalise line ends and turn every control character other than newline into a space. */
export function cleanText(text: string): string {
  const normalized = text.replace(/\r\n?/g, '\n');
  let out = '';
  for (const ch of normalized) {
    const code = ch.charCodeAt(0);
    out += (code < 0x20 && ch !== '\n') || code === 0x7f ? ' ' : ch;
  }
  return out;
}

/** Greedy word wrap of one paragraph; words longer than the width stay whole. */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/).filter((w) => w !== '')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Split a doc into paragraphs (blank-line separated), each collapsed to one line. */
export function paragraphs(doc: string): string[] {
  return cleanText(doc)
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
    .filter((p) => p !== '');
}

// ---- rules -----------------------------------------------------------------------------------

/** What a struct's sizing allows later revisions to do, in one sentence. */
export function sizingRule(s: ResolvedStruct): string {
  return s.sizing === 'fixed'
    ? 'Sizing fixed: the size is part of the ABI and never changes; new fields may only be carved out of reserved bytes.'
    : 'Sizing versioned: the producer records the size it wrote; new fields are appended at the tail, and a reader reports fields beyond the recorded size as absent (an older producer), never as zero.';
}

/** Structs in an order where every struct comes after the structs it contains (stable otherwise). */
export function structsInDependencyOrder(abi: ResolvedAbi): ResolvedStruct[] {
  const byName = new Map(abi.structs.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: ResolvedStruct[] = [];
  const visit = (s: ResolvedStruct) => {
    if (done.has(s.name)) return;
    done.add(s.name);
    for (const f of s.fields) {
      const inner = f.kind === 'struct' && f.struct !== undefined ? byName.get(f.struct) : undefined;
      if (inner) visit(inner);
    }
    out.push(s);
  };
  for (const s of abi.structs) visit(s);
  return out;
}

/** True when two resolved ABIs describe the same thing apart from their revision number. */
export function sameApartFromRevision(a: ResolvedAbi, b: ResolvedAbi): boolean {
  return canonicalJson({ ...a, revision: 0 }) === canonicalJson({ ...b, revision: 0 });
}

/** JSON with object keys sorted, so that key order (e.g. of a parsed lock file) does not matter. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
        )
      : v,
  );
}

// ---- sources ---------------------------------------------------------------------------------

export interface GenSources {
  /** The working schema, resolved as revision 0. */
  working: ResolvedAbi;
  /** Every frozen revision, ascending. */
  revisions: ResolvedAbi[];
  /** What the artefacts describe: the latest revision when the schema equals it, else the working schema. */
  described: ResolvedAbi;
}

/** Pick what generated artefacts describe (see GenSources.described). */
export function describedRevision(working: ResolvedAbi, revisions: ResolvedAbi[]): ResolvedAbi {
  const last = revisions[revisions.length - 1];
  return last && sameApartFromRevision(working, last) ? last : working;
}

/** Where a generated file says it came from, and how to regenerate it. */
export interface GenProvenance {
  /** `Generated by <by> from <source>: do not edit.` */
  by: string;
  source: string;
  /** The command that regenerates it. */
  regenerate: string;
}

/**
 * This repository's artefacts come from scripts/gen-abi.ts (which recognises them by that
 * marker); another project's from `hvkit abi gen`, its schema named relative to its schemas dir.
 */
export function provenanceFor(abi: string, kind: 'c' | 'md', schemasRoot = DEFAULT_SCHEMAS_ROOT): GenProvenance {
  if (schemasRoot === DEFAULT_SCHEMAS_ROOT) {
    return { by: 'scripts/gen-abi.ts', source: `schemas/${abi}/schema.ts`, regenerate: 'npx tsx scripts/gen-abi.ts' };
  }
  return { by: `hvkit abi gen ${kind}`, source: `${abi}/schema.ts`, regenerate: `npx hvkit abi gen ${kind} ${abi}` };
}

/** Load one ABI through the registry and decide which revision the artefacts describe. */
export async function loadGenSources(name: string, schemasRoot = DEFAULT_SCHEMAS_ROOT): Promise<GenSources> {
  const { current, revisions } = await loadAbi(name, schemasRoot);
  return { working: current, revisions, described: describedRevision(current, revisions) };
}
