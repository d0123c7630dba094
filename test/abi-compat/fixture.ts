/**
 * A small ABI exercising every construct the checker knows, and helpers to
 * compare a mutated copy of it against frozen revisions.
 */
import assert from 'node:assert/strict';
import { type CompatReport, type CompatViolation, checkCompat } from '../../src/abi/compat.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import {
  type AbiSpec,
  array,
  chars,
  counter,
  defineAbi,
  type FieldSpec,
  int,
  magic,
  nested,
  reserved,
  retired,
  type StructSpec,
  seq,
} from '../../src/abi/schema.ts';

export function baseSpec(): AbiSpec {
  return defineAbi({
    name: 'demo',
    doc: 'A demonstration ABI.',
    major: 1,
    constants: [
      { name: 'MAGIC', doc: 'Identifies a header.', type: 'u32', value: 0x48564b54, kind: 'magic' },
      { name: 'LIMIT', doc: 'A limit.', type: 'u32', value: 16, kind: 'const' },
    ],
    enums: [
      {
        name: 'state',
        doc: 'States.',
        kind: 'enum',
        type: 'u8',
        values: [
          { name: 'IDLE', value: 0, doc: 'Idle.' },
          { name: 'RUNNING', value: 1, doc: 'Running.' },
          { name: 'GONE', value: 2, doc: 'No longer used.', retired: true },
        ],
      },
      {
        name: 'caps',
        doc: 'Capabilities.',
        kind: 'flags',
        type: 'u32',
        values: [
          { name: 'FAST', value: 0, doc: 'Fast.' },
          { name: 'WIDE', value: 1, doc: 'Wide.' },
          { name: 'OLD', value: 4, doc: 'No longer used.', retired: true },
        ],
      },
    ],
    structs: [
      {
        name: 'hdr',
        doc: 'A fixed header.',
        sizing: 'fixed',
        fields: [
          magic('magic', 'u32', 'MAGIC', 'Magic.'),
          int('version', 'u16', 'Version.'),
          int('kind', 'u8', 'State.', { enum: 'state' }),
          int('flags', 'u32', 'Capabilities.', { flags: 'caps' }),
          int('weight', 'u32', 'Weight.', { default: 7 }),
          retired('old', 4, 'Was a counter.', 4),
          reserved('rsv', 8),
        ],
      },
      {
        name: 'stats',
        doc: 'A statistics group.',
        sizing: 'versioned',
        seqField: 'seq',
        fields: [
          seq('seq', 'u32', 'Sequence.'),
          int('count', 'u32', 'A count.'),
          counter('hits', 'Hits.'),
          array('lat', 'u64', 4, 'Latency histogram.', { stat: { type: 'log-hist', unit: 'seconds', exponent: -9 } }),
          reserved('spare', 16),
        ],
      },
      {
        name: 'body',
        doc: 'A record body.',
        sizing: 'versioned',
        fields: [int('a', 'u32', 'A.'), int('b', 'u32', 'B.'), chars('label', 8, 'Label.')],
      },
      {
        name: 'slot',
        doc: 'An array element.',
        sizing: 'versioned',
        fields: [int('id', 'u32', 'Id.'), int('val', 'u32', 'Value.')],
      },
      {
        name: 'ring',
        doc: 'A standalone seqlocked struct.',
        sizing: 'versioned',
        seqField: 'gen',
        fields: [seq('gen', 'u32', 'Generation.'), int('pos', 'u32', 'Position.')],
      },
      {
        name: 'table',
        doc: 'The top-level block.',
        sizing: 'versioned',
        fields: [
          nested('hdr', 'hdr', 'Header.'),
          nested('stats', 'stats', 'Statistics.', { group: { bit: 0 } }),
          nested('slots', 'slot', 'Slots.', { length: 4 }),
          int('tail', 'u32', 'Last field.'),
        ],
      },
    ],
    records: [
      { name: 'start', doc: 'Start.', type: 1, mandatory: true, struct: 'body' },
      { name: 'extra', doc: 'Extra.', type: 0x100, mandatory: false, struct: 'body' },
      { name: 'gone', doc: 'Retired.', type: 2, mandatory: false, struct: 'body', retired: true },
    ],
  });
}

export function clone(spec: AbiSpec): AbiSpec {
  return structuredClone(spec);
}

export function struct(spec: AbiSpec, name: string): StructSpec {
  const s = spec.structs.find((x) => x.name === name);
  assert.ok(s, `no struct ${name}`);
  return s;
}

export function field(spec: AbiSpec, structName: string, name: string): FieldSpec {
  const f = struct(spec, structName).fields.find((x) => x.name === name);
  assert.ok(f, `no field ${structName}.${name}`);
  return f;
}

/** Replaces field `name` of a struct by the given fields. */
export function replaceField(spec: AbiSpec, structName: string, name: string, ...by: FieldSpec[]): void {
  const fields = struct(spec, structName).fields;
  const i = fields.findIndex((f) => f.name === name);
  assert.ok(i >= 0, `no field ${structName}.${name}`);
  fields.splice(i, 1, ...by);
}

/** The base spec mutated by `change`. */
export function mutated(change: (spec: AbiSpec) => void, from = baseSpec()): AbiSpec {
  const spec = clone(from);
  change(spec);
  return spec;
}

/** Frozen revisions 1..N from a list of specs. */
export function freezeAll(...specs: AbiSpec[]): ResolvedAbi[] {
  return specs.map((s, i) => resolveAbi(s, i + 1));
}

/** The base spec frozen as revision 1, the mutated spec as the current schema. */
export function compare(change: (spec: AbiSpec) => void): CompatReport {
  return checkCompat(resolveAbi(mutated(change), 0), freezeAll(baseSpec()));
}

export function key(v: Pick<CompatViolation, 'revision' | 'struct' | 'field' | 'rule'>): string {
  return `rev ${v.revision}: ${v.struct}.${v.field}: ${v.rule}`;
}

export function keysOf(report: CompatReport, severity: CompatViolation['severity'] = 'error'): string[] {
  return report.violations
    .filter((v) => v.severity === severity)
    .map(key)
    .sort();
}

/** Asserts the report's errors are exactly `expected` (as `rev N: struct.field: rule`). */
export function assertErrors(report: CompatReport, expected: string[]): void {
  assert.deepEqual(keysOf(report), [...expected].sort());
  assert.equal(report.errors, expected.length);
  for (const v of report.violations) assert.equal(v.abi, report.abi);
}
