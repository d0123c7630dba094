/**
 * The compatibility checker: compares the current schema with every frozen
 * revision of the same major and refuses what would break a producer or a
 * consumer built from an older revision.
 *
 * Every comparison is "frozen revision F → current C". Structs, enums,
 * constants and records are matched by name; fields by name, then by an
 * explicit rename (renamedFrom), then by an implicit rename (same bytes, same
 * type, old name gone). Violations are collected, never thrown, so one run
 * reports every problem with the revision it breaks.
 */
import type {
  ResolvedAbi,
  ResolvedConstant,
  ResolvedEnum,
  ResolvedField,
  ResolvedRecord,
  ResolvedStruct,
} from './resolved.ts';

export const COMPAT_RULES = {
  IDENTITY_CHANGED: 'identity-changed',
  MAJOR_LOWERED: 'major-lowered',
  /** Info: a frozen revision of an older major is not compared. */
  MAJOR_SKIPPED: 'major-skipped',
  MAGIC_CHANGED: 'magic-changed',
  CONST_CHANGED: 'const-changed',
  CONST_REMOVED: 'const-removed',
  STRUCT_REMOVED: 'struct-removed',
  SIZING_CHANGED: 'sizing-changed',
  SIZE_CHANGED: 'size-changed',
  STRUCT_SHRUNK: 'struct-shrunk',
  FIELD_MOVED: 'field-moved',
  TYPE_CHANGED: 'type-changed',
  FIELD_REMOVED: 'field-removed',
  RETIRED_REUSED: 'retired-reused',
  DEFAULT_CHANGED: 'default-changed',
  NEW_FIELD_NONZERO_DEFAULT: 'new-field-nonzero-default',
  STAT_CHANGED: 'stat-changed',
  GROUP_BIT_CHANGED: 'group-bit-changed',
  GROUP_BIT_REUSED: 'group-bit-reused',
  CONCURRENCY_WORD_MOVED: 'concurrency-word-moved',
  CONCURRENCY_WORD_RESIZED: 'concurrency-word-resized',
  /** A seq word that stops being one (changes kind, is removed as a struct's seqField). */
  CONCURRENCY_WORD_CHANGED: 'concurrency-word-changed',
  GROW_AND_REWRITE: 'grow-and-rewrite',
  ENUM_REMOVED: 'enum-removed',
  ENUM_TYPE_CHANGED: 'enum-type-changed',
  ENUM_RENUMBERED: 'enum-renumbered',
  ENUM_VALUE_REUSED: 'enum-value-reused',
  ENUM_VALUE_REMOVED: 'enum-value-removed',
  FLAGS_BIT_RENUMBERED: 'flags-bit-renumbered',
  FLAGS_BIT_REUSED: 'flags-bit-reused',
  FLAGS_BIT_REMOVED: 'flags-bit-removed',
  RECORD_REMOVED: 'record-removed',
  RECORD_TYPE_CHANGED: 'record-type-changed',
  RECORD_TYPE_REUSED: 'record-type-reused',
  RECORD_MANDATORY_CHANGED: 'record-mandatory-changed',
  RECORD_STRUCT_CHANGED: 'record-struct-changed',
  /** Warning: accepted, but consumers' source code must follow. */
  RENAMED: 'renamed',
} as const;

export type CompatRule = (typeof COMPAT_RULES)[keyof typeof COMPAT_RULES];
export type CompatSeverity = 'error' | 'warning' | 'info';

export interface CompatViolation {
  abi: string;
  /** The frozen revision this violation breaks. */
  revision: number;
  /** Struct name; `enum X` / `flags X` for enum values, `constants`, `records`, `abi` for the rest. */
  struct: string;
  /** Field (or value, constant, record) name in the current schema when it still exists; '' for the whole. */
  field: string;
  rule: CompatRule;
  message: string;
  severity: CompatSeverity;
}

export interface CompatReport {
  abi: string;
  /** Frozen revisions that were compared (same major). */
  compared: number[];
  /** Frozen revisions of an older major, not compared. */
  skipped: number[];
  violations: CompatViolation[];
  errors: number;
  warnings: number;
}

const R = COMPAT_RULES;
const LIVE_KINDS = new Set(['int', 'array', 'char', 'magic', 'seq', 'struct']);
const FREE_KINDS = new Set(['reserved', 'pad']);

/** `ABI rev N: struct.field: rule: message`, with the severity in front of non-error messages. */
export function formatCompatViolation(v: CompatViolation): string {
  const where = v.field === '' ? v.struct : `${v.struct}.${v.field}`;
  const message = v.severity === 'error' ? v.message : `${v.severity}: ${v.message}`;
  return `${v.abi} rev ${v.revision}: ${where}: ${v.rule}: ${message}`;
}

export function checkCompat(current: ResolvedAbi, frozen: ResolvedAbi[]): CompatReport {
  const sorted = [...frozen].sort((a, b) => a.revision - b.revision);
  const violations: CompatViolation[] = [];
  const report = (v: Omit<CompatViolation, 'abi' | 'severity'> & { severity?: CompatSeverity }) => {
    violations.push({ abi: current.abi, severity: 'error', ...v });
  };
  const comparable: ResolvedAbi[] = [];
  const skipped: number[] = [];
  for (const f of sorted) {
    const revision = f.revision;
    if (f.abi !== current.abi) {
      report({
        revision,
        struct: 'abi',
        field: 'name',
        rule: R.IDENTITY_CHANGED,
        message: `the ABI was ${f.abi}; an ABI's name never changes`,
      });
    } else if (f.major > current.major) {
      report({
        revision,
        struct: 'abi',
        field: 'major',
        rule: R.MAJOR_LOWERED,
        message: `major ${current.major} is lower than the frozen major ${f.major}`,
      });
    } else if (f.major < current.major) {
      skipped.push(revision);
      report({
        revision,
        struct: 'abi',
        field: 'major',
        rule: R.MAJOR_SKIPPED,
        severity: 'info',
        message: `frozen under major ${f.major}, not compared with major ${current.major}`,
      });
    } else {
      comparable.push(f);
    }
  }
  const latest = comparable.at(-1);
  comparable.forEach((f, i) => {
    const history = new History(comparable.slice(0, i + 1));
    new Comparison(f, current, history, f === latest, report).run();
  });

  const seen = new Set<string>();
  const unique = violations.filter((v) => {
    const key = `${v.revision}\0${v.struct}\0${v.field}\0${v.rule}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return {
    abi: current.abi,
    compared: comparable.map((f) => f.revision),
    skipped,
    violations: unique,
    errors: unique.filter((v) => v.severity === 'error').length,
    warnings: unique.filter((v) => v.severity === 'warning').length,
  };
}

/** Names and group bits a struct has had in any revision up to the one compared: never to be reused. */
class History {
  private readonly names = new Map<string, Set<string>>();
  private readonly bits = new Map<string, Set<number>>();
  constructor(revisions: ResolvedAbi[]) {
    for (const abi of revisions) {
      for (const s of abi.structs) {
        const names = getOrCreate(this.names, s.name);
        const bits = getOrCreate(this.bits, s.name);
        for (const f of s.fields) {
          if (LIVE_KINDS.has(f.kind) || f.kind === 'retired') names.add(f.name);
          if (f.group) bits.add(f.group.bit);
        }
      }
    }
  }
  hadName(struct: string, name: string): boolean {
    return this.names.get(struct)?.has(name) ?? false;
  }
  hadBit(struct: string, bit: number): boolean {
    return this.bits.get(struct)?.has(bit) ?? false;
  }
}

function getOrCreate<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

type Report = (v: Omit<CompatViolation, 'abi' | 'severity'> & { severity?: CompatSeverity }) => void;

function end(f: ResolvedField): number {
  return f.offset + f.size;
}

function overlaps(a: ResolvedField, start: number, stop: number): boolean {
  return a.offset < stop && start < end(a);
}

/** Struct names used as elements of an array: their size is the stride, and the stride is ABI. */
function arrayElements(abi: ResolvedAbi): Set<string> {
  const out = new Set<string>();
  for (const s of abi.structs) {
    for (const f of s.fields) if (f.kind === 'struct' && f.struct !== undefined && f.count > 1) out.add(f.struct);
  }
  return out;
}

function describeType(f: ResolvedField): string {
  switch (f.kind) {
    case 'int':
    case 'magic':
    case 'seq':
      return `${f.kind} ${f.type}`;
    case 'array':
      return `${f.type}[${f.count}]`;
    case 'char':
      return `char[${f.count}]`;
    case 'struct':
      return f.count > 1 ? `struct ${f.struct}[${f.count}]` : `struct ${f.struct}`;
    default:
      return `${f.kind} (${f.size} bytes)`;
  }
}

/** Same kind and element type; for nested structs the size may differ (the nested struct answers for it). */
function sameType(a: ResolvedField, b: ResolvedField): boolean {
  if (a.kind !== b.kind || a.type !== b.type || a.count !== b.count || a.struct !== b.struct) return false;
  return a.kind === 'struct' || a.size === b.size;
}

function statKey(f: ResolvedField): string {
  const s = f.stat;
  const stat = s ? [s.type, s.unit, s.base, s.exponent, s.bucketSize ?? ''].join('/') : 'none';
  return `${stat}; inactive-when-all-ones ${f.inactiveWhenAllOnes === true}`;
}

/** One frozen revision against the current schema. */
class Comparison {
  private readonly fArrays: Set<string>;
  private readonly cArrays: Set<string>;

  constructor(
    private readonly frozen: ResolvedAbi,
    private readonly current: ResolvedAbi,
    private readonly history: History,
    /** Renames and grow-and-rewrite are judged against the latest revision only. */
    private readonly latest: boolean,
    private readonly out: Report,
  ) {
    this.fArrays = arrayElements(frozen);
    this.cArrays = arrayElements(current);
  }

  private report(
    struct: string,
    field: string,
    rule: CompatRule,
    message: string,
    severity: CompatSeverity = 'error',
  ): void {
    this.out({ revision: this.frozen.revision, struct, field, rule, message, severity });
  }

  private renamed(struct: string, field: string, from: string): void {
    if (this.latest) this.report(struct, field, R.RENAMED, `renamed from ${from}`, 'warning');
  }

  run(): void {
    this.constants();
    for (const fe of this.frozen.enums) this.enumeration(fe);
    for (const fs of this.frozen.structs) {
      const cs = this.current.structs.find((s) => s.name === fs.name);
      if (cs) this.struct(fs, cs);
      else this.report(fs.name, '', R.STRUCT_REMOVED, 'a frozen struct is gone');
    }
    this.records();
  }

  private constants(): void {
    for (const fc of this.frozen.constants) {
      const cc = this.current.constants.find((c) => c.name === fc.name);
      if (!cc) {
        this.report('constants', fc.name, R.CONST_REMOVED, 'a frozen constant is gone');
        continue;
      }
      const show = (c: ResolvedConstant) => `${c.kind} ${c.type} ${c.value}`;
      if (show(fc) === show(cc)) continue;
      const rule = fc.kind === 'magic' ? R.MAGIC_CHANGED : R.CONST_CHANGED;
      const hint = fc.kind === 'magic' ? ' (a magic changes only with a major bump)' : '';
      this.report('constants', fc.name, rule, `was ${show(fc)}, now ${show(cc)}${hint}`);
    }
  }

  private enumeration(fe: ResolvedEnum): void {
    const where = `${fe.kind} ${fe.name}`;
    const ce = this.current.enums.find((e) => e.name === fe.name);
    if (!ce) {
      this.report(where, '', R.ENUM_REMOVED, `a frozen ${fe.kind} is gone`);
      return;
    }
    if (ce.kind !== fe.kind || ce.type !== fe.type) {
      this.report(where, '', R.ENUM_TYPE_CHANGED, `was ${fe.kind} ${fe.type}, now ${ce.kind} ${ce.type}`);
      return;
    }
    const flags = fe.kind === 'flags';
    const what = flags ? 'bit' : 'value';
    const rules = flags
      ? { renumbered: R.FLAGS_BIT_RENUMBERED, reused: R.FLAGS_BIT_REUSED, removed: R.FLAGS_BIT_REMOVED }
      : { renumbered: R.ENUM_RENUMBERED, reused: R.ENUM_VALUE_REUSED, removed: R.ENUM_VALUE_REMOVED };
    const matched = new Set<string>();
    for (const fv of fe.values) {
      const cv = ce.values.find((v) => v.name === fv.name);
      if (cv) {
        matched.add(cv.name);
        if (cv.value !== fv.value)
          this.report(where, cv.name, rules.renumbered, `${what} was ${fv.value}, now ${cv.value}`);
        else if (fv.retired && !cv.retired) {
          this.report(where, cv.name, rules.reused, `retired ${what} ${fv.value} is live again`);
        }
        continue;
      }
      const rename = ce.values.find(
        (v) => v.value === fv.value && !fv.retired && !fe.values.some((o) => o.name === v.name),
      );
      if (rename) {
        matched.add(rename.name);
        this.renamed(where, rename.name, fv.name);
      } else {
        const how = fv.retired ? 'retired values stay listed' : 'mark it retired instead';
        this.report(where, fv.name, rules.removed, `${what} ${fv.value} is gone (${how})`);
      }
    }
    for (const cv of ce.values) {
      if (matched.has(cv.name)) continue;
      const old = fe.values.find((v) => v.value === cv.value);
      if (old) {
        const state = old.retired ? 'retired ' : '';
        this.report(where, cv.name, rules.reused, `${what} ${cv.value} belonged to ${state}${old.name}`);
      }
    }
  }

  private records(): void {
    const matched = new Set<string>();
    const where = 'records';
    for (const fr of this.frozen.records) {
      let cr = this.current.records.find((r) => r.name === fr.name);
      if (!cr) {
        cr = this.current.records.find(
          (r) => r.type === fr.type && !fr.retired && !this.frozen.records.some((o) => o.name === r.name),
        );
        if (cr) this.renamed(where, cr.name, fr.name);
      }
      if (!cr) {
        this.report(where, fr.name, R.RECORD_REMOVED, `record type ${fr.type} is gone (mark it retired instead)`);
        continue;
      }
      matched.add(cr.name);
      this.record(fr, cr);
    }
    for (const cr of this.current.records) {
      if (matched.has(cr.name)) continue;
      const old = this.frozen.records.find((r) => r.type === cr.type);
      if (old) {
        const state = old.retired ? 'retired ' : '';
        this.report(where, cr.name, R.RECORD_TYPE_REUSED, `type ${cr.type} belonged to ${state}${old.name}`);
      }
    }
  }

  private record(fr: ResolvedRecord, cr: ResolvedRecord): void {
    const where = 'records';
    if (cr.type !== fr.type) {
      this.report(where, cr.name, R.RECORD_TYPE_CHANGED, `type was ${fr.type}, now ${cr.type}`);
    }
    if (cr.mandatory !== fr.mandatory) {
      this.report(where, cr.name, R.RECORD_MANDATORY_CHANGED, `mandatory was ${fr.mandatory}, now ${cr.mandatory}`);
    }
    if (cr.struct !== fr.struct) {
      this.report(where, cr.name, R.RECORD_STRUCT_CHANGED, `body was struct ${fr.struct}, now ${cr.struct}`);
    }
    if (fr.retired && !cr.retired) {
      this.report(where, cr.name, R.RECORD_TYPE_REUSED, `retired type ${fr.type} is live again`);
    }
  }

  private struct(fs: ResolvedStruct, cs: ResolvedStruct): void {
    new StructComparison(this, fs, cs).run();
  }

  /** Exposed to StructComparison. */
  emit(struct: string, field: string, rule: CompatRule, message: string, severity: CompatSeverity = 'error'): void {
    this.report(struct, field, rule, message, severity);
  }
  emitRename(struct: string, field: string, from: string): void {
    this.renamed(struct, field, from);
  }
  isArrayElement(name: string): boolean {
    return this.fArrays.has(name) || this.cArrays.has(name);
  }
  get isLatest(): boolean {
    return this.latest;
  }
  get frozenAbi(): ResolvedAbi {
    return this.frozen;
  }
  get currentAbi(): ResolvedAbi {
    return this.current;
  }
  get past(): History {
    return this.history;
  }
}

/** The fields of one struct, frozen against current. */
class StructComparison {
  private readonly name: string;
  /** Current fields matched to a frozen field (or tombstone), by current name. */
  private readonly used = new Set<string>();
  /** Existing bytes rewritten in this revision: carves, renames, tombstones, changed fields. */
  private readonly rewrites: string[] = [];
  private readonly cByName: Map<string, ResolvedField>;
  private readonly fNames: Set<string>;

  constructor(
    private readonly cmp: Comparison,
    private readonly fs: ResolvedStruct,
    private readonly cs: ResolvedStruct,
  ) {
    this.name = fs.name;
    this.cByName = new Map(cs.fields.filter((f) => f.kind !== 'pad').map((f) => [f.name, f]));
    this.fNames = new Set(fs.fields.filter((f) => f.kind !== 'pad').map((f) => f.name));
  }

  private emit(field: string, rule: CompatRule, message: string): void {
    this.cmp.emit(this.name, field, rule, message);
  }

  run(): void {
    this.size();
    const live = this.fs.fields.filter((f) => LIVE_KINDS.has(f.kind));
    const pending = this.matchByName(live);
    this.matchLeftovers(pending);
    for (const t of this.fs.fields.filter((f) => f.kind === 'retired')) this.tombstone(t);
    for (const c of this.cs.fields) {
      if (LIVE_KINDS.has(c.kind) && !this.used.has(c.name)) this.newField(c);
    }
    this.seqField();
    if (this.cmp.isLatest && this.cs.size > this.fs.size && this.rewrites.length > 0) {
      this.emit(
        '',
        R.GROW_AND_REWRITE,
        `grows from ${this.fs.size} to ${this.cs.size} bytes and rewrites ${this.rewrites.join(', ')} in the same revision`,
      );
    }
  }

  private size(): void {
    const { fs, cs } = this;
    if (fs.sizing !== cs.sizing) this.emit('', R.SIZING_CHANGED, `sizing was ${fs.sizing}, now ${cs.sizing}`);
    if (fs.size === cs.size) return;
    const change = `size was ${fs.size}, now ${cs.size}`;
    if (this.cmp.isArrayElement(this.name)) this.emit('', R.SIZE_CHANGED, `${change}; it is an array element`);
    else if (fs.sizing === 'fixed') this.emit('', R.SIZE_CHANGED, `${change}; the struct is fixed-size`);
    else if (cs.size < fs.size) this.emit('', R.STRUCT_SHRUNK, change);
  }

  /** Pairs frozen fields with current fields of the same name; returns the unpaired ones. */
  private matchByName(live: ResolvedField[]): ResolvedField[] {
    const pending: ResolvedField[] = [];
    for (const f of live) {
      const c = this.cByName.get(f.name);
      // A namesake elsewhere while a tombstone now covers the old bytes: the field was retired and
      // its name reused (reported by newField), not moved.
      if (c && !(c.offset !== f.offset && this.tombstoneOf(f))) this.pair(f, c, false);
      else pending.push(f);
    }
    return pending;
  }

  /** An unclaimed current tombstone covering exactly the bytes of frozen field `f`. */
  private tombstoneOf(f: ResolvedField): ResolvedField | undefined {
    return this.cs.fields.find(
      (c) => c.kind === 'retired' && !this.used.has(c.name) && c.offset === f.offset && c.size === f.size,
    );
  }

  /** Explicit renames, tombstones, implicit renames, and finally removals. */
  private matchLeftovers(pending: ResolvedField[]): void {
    const free = (c: ResolvedField) => !this.used.has(c.name) && !this.fNames.has(c.name);
    for (const f of pending) {
      const explicit = this.cs.fields.find((c) => free(c) && c.renamedFrom?.includes(f.name));
      if (explicit) {
        this.pair(f, explicit, true);
        continue;
      }
      const tomb = this.tombstoneOf(f);
      if (tomb) {
        this.used.add(tomb.name);
        this.rewrites.push(f.name);
        continue;
      }
      const implicit = this.cs.fields.find(
        (c) => free(c) && LIVE_KINDS.has(c.kind) && c.offset === f.offset && c.size === f.size && sameType(f, c),
      );
      if (implicit) {
        this.pair(f, implicit, true);
        continue;
      }
      this.emit(f.name, R.FIELD_REMOVED, `${describeType(f)} at offset ${f.offset} is gone without a tombstone`);
    }
  }

  private pair(f: ResolvedField, c: ResolvedField, renamed: boolean): void {
    this.used.add(c.name);
    let changed = renamed;
    const flag = (field: string, rule: CompatRule, message: string) => {
      changed = true;
      this.emit(field, rule, message);
    };
    if (renamed) this.cmp.emitRename(this.name, c.name, f.name);
    if (c.kind === 'retired') {
      if (c.offset !== f.offset || c.size !== f.size) {
        flag(c.name, R.FIELD_REMOVED, `the tombstone must cover exactly bytes ${f.offset}..${end(f)}`);
      }
      this.rewrites.push(c.name);
      return;
    }
    if (!LIVE_KINDS.has(c.kind)) {
      flag(c.name, R.FIELD_REMOVED, `became ${c.kind} bytes; removed fields need a tombstone (retired)`);
      this.rewrites.push(c.name);
      return;
    }
    const seqWord = f.kind === 'seq';
    if (c.offset !== f.offset) {
      flag(c.name, seqWord ? R.CONCURRENCY_WORD_MOVED : R.FIELD_MOVED, `offset was ${f.offset}, now ${c.offset}`);
    }
    const types = `was ${describeType(f)}, now ${describeType(c)}`;
    if (seqWord && c.kind !== 'seq') flag(c.name, R.CONCURRENCY_WORD_CHANGED, `no longer a seq word: ${types}`);
    else if (seqWord && c.size !== f.size) flag(c.name, R.CONCURRENCY_WORD_RESIZED, types);
    else if (!sameType(f, c)) flag(c.name, R.TYPE_CHANGED, types);
    if (f.enum !== c.enum || f.flags !== c.flags) {
      const show = (x: ResolvedField) => (x.enum ? `enum ${x.enum}` : x.flags ? `flags ${x.flags}` : 'plain');
      flag(c.name, R.TYPE_CHANGED, `values were ${show(f)}, now ${show(c)}`);
    }
    if (f.kind === 'magic' && c.kind === 'magic' && f.constant !== c.constant) {
      flag(c.name, R.MAGIC_CHANGED, `magic constant was ${f.constant}, now ${c.constant}`);
    }
    if (f.kind === 'int' && c.kind === 'int' && f.default !== c.default) {
      flag(c.name, R.DEFAULT_CHANGED, `default was ${f.default}, now ${c.default}`);
    }
    if (statKey(f) !== statKey(c)) flag(c.name, R.STAT_CHANGED, `stat was ${statKey(f)}, now ${statKey(c)}`);
    if (f.group?.bit !== c.group?.bit) {
      flag(c.name, R.GROUP_BIT_CHANGED, `group bit was ${f.group?.bit ?? 'none'}, now ${c.group?.bit ?? 'none'}`);
    }
    if (changed) this.rewrites.push(c.name);
  }

  /** A tombstone keeps its bytes forever, and its name. */
  private tombstone(t: ResolvedField): void {
    const over = this.cs.fields.filter((c) => overlaps(c, t.offset, end(t)));
    const kept =
      over.length === 1 && over[0]?.kind === 'retired' && over[0].offset === t.offset && over[0].size === t.size;
    if (kept && over[0]) {
      this.used.add(over[0].name);
    } else {
      const intruders = over.filter((c) => LIVE_KINDS.has(c.kind));
      for (const c of intruders) {
        this.used.add(c.name);
        this.emit(c.name, R.RETIRED_REUSED, `occupies bytes of tombstone ${t.name} (${t.offset}..${end(t)})`);
      }
      if (intruders.length === 0) this.emit(t.name, R.FIELD_REMOVED, 'a tombstone was removed or resized');
    }
    const namesake = this.cByName.get(t.name);
    if (namesake && LIVE_KINDS.has(namesake.kind)) {
      this.used.add(namesake.name);
      this.emit(namesake.name, R.RETIRED_REUSED, `${t.name} is a retired name`);
    }
  }

  /** A current field that no frozen field became: carved from free bytes or appended. */
  private newField(c: ResolvedField): void {
    const { fs } = this;
    if (this.cmp.past.hadName(this.name, c.name)) {
      this.emit(c.name, R.RETIRED_REUSED, `${c.name} was the name of an earlier field`);
    }
    if (c.group && this.cmp.past.hadBit(this.name, c.group.bit)) {
      this.emit(c.name, R.GROUP_BIT_REUSED, `group bit ${c.group.bit} was used by an earlier group`);
    }
    const below = Math.min(end(c), fs.size);
    const carved = c.offset < fs.size;
    const inFree =
      !carved || fs.fields.filter((f) => overlaps(f, c.offset, below)).every((f) => FREE_KINDS.has(f.kind));
    // Growth past the frozen size is judged by size() (fixed, array element); bytes that held
    // live or retired fields are reported on those fields. Only legal placements are left here.
    if (!inFree) return;
    if (carved) this.rewrites.push(c.name);
    const nonzero = this.nonzeroDefaults(c, new Set());
    if (nonzero.length > 0) {
      this.emit(
        c.name,
        R.NEW_FIELD_NONZERO_DEFAULT,
        `${nonzero.join(', ')}: a field added later must default to 0 (what older producers write)`,
      );
    }
  }

  /**
   * Int fields with a non-zero default, and magics with a non-zero value, in a new field, looking
   * into nested structs that are new too. A new magic is checked by new readers, but older
   * producers leave its bytes zero, so their data would be refused.
   */
  private nonzeroDefaults(c: ResolvedField, seen: Set<string>): string[] {
    if (c.kind === 'int') return c.default !== undefined && c.default !== '0' ? [`default ${c.default}`] : [];
    if (c.kind === 'magic') {
      const value = this.cmp.currentAbi.constants.find((k) => k.name === c.constant)?.value;
      return value !== undefined && value !== '0' ? [`magic ${c.constant} = ${value}`] : [];
    }
    if (c.kind !== 'struct' || c.struct === undefined || seen.has(c.struct)) return [];
    if (this.cmp.frozenAbi.structs.some((s) => s.name === c.struct)) return [];
    seen.add(c.struct);
    const inner = this.cmp.currentAbi.structs.find((s) => s.name === c.struct);
    return (inner?.fields ?? []).flatMap((f) => this.nonzeroDefaults(f, seen).map((d) => `${c.struct}.${f.name} ${d}`));
  }

  /** The struct's seqlock word: reported with concurrency rules when it moves, resizes or disappears. */
  private seqField(): void {
    const { fs, cs } = this;
    if (fs.seqField === undefined) return;
    const fSeq = fs.fields.find((f) => f.name === fs.seqField);
    const cSeq = cs.fields.find((f) => f.name === cs.seqField);
    if (!fSeq) return;
    if (!cSeq) {
      this.emit(fSeq.name, R.CONCURRENCY_WORD_CHANGED, 'the struct no longer has a seq word');
      return;
    }
    if (cSeq.name === fSeq.name || cSeq.renamedFrom?.includes(fSeq.name)) return; // compared as a field
    if (cSeq.offset !== fSeq.offset) {
      this.emit(
        cSeq.name,
        R.CONCURRENCY_WORD_MOVED,
        `seq word was ${fSeq.name} at ${fSeq.offset}, now at ${cSeq.offset}`,
      );
    } else if (cSeq.size !== fSeq.size) {
      this.emit(cSeq.name, R.CONCURRENCY_WORD_RESIZED, `seq word was ${fSeq.size} bytes, now ${cSeq.size}`);
    }
  }
}
