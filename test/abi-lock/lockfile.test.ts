/** Lock file reader: each rule, with the exact JSON path it reports. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveAbi } from '../../src/abi/layout.ts';
import { MAX_LOCK_BYTES, parseLock, serializeLock } from '../../src/abi/lockfile.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import { FormatError } from '../../src/errors.ts';
import { baseSpec } from '../abi-compat/fixture.ts';

const abi = resolveAbi(baseSpec(), 1);
const text = serializeLock(abi);

/** Indices in the fixture: structs[0] = hdr, [1] = stats, [5] = table. */
const HDR = 0;
const STATS = 1;

function doc(): ResolvedAbi & Record<string, unknown> {
  return JSON.parse(text);
}

function refuses(input: string | object, field: string, rule: string): void {
  const t = typeof input === 'string' ? input : JSON.stringify(input);
  assert.throws(
    () => parseLock(t, 'test.lock.json'),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.equal(`${e.field} ${e.rule}`, `${field} ${rule}`, e.message);
      assert.equal(e.format, 'lock test.lock.json');
      return true;
    },
  );
}

function edit(change: (d: ResolvedAbi & Record<string, unknown>) => void): object {
  const d = doc();
  change(d);
  return d;
}

test('the canonical text round-trips', () => {
  const parsed = parseLock(text, 'x');
  assert.deepEqual(parsed, abi);
  assert.equal(serializeLock(parsed), text);
  assert.ok(text.endsWith('}\n'));
});

describe('file-level rules', () => {
  test('oversized files are refused before parsing', () => {
    refuses(' '.repeat(MAX_LOCK_BYTES + 1), '(file)', 'too-large');
    // Multi-byte characters count as bytes.
    refuses('é'.repeat(MAX_LOCK_BYTES / 2 + 1), '(file)', 'too-large');
  });
  test('not JSON, empty, truncated', () => {
    refuses('', '(file)', 'json-syntax');
    refuses('{', '(file)', 'json-syntax');
    refuses(text.slice(0, text.length / 2), '(file)', 'json-syntax');
  });
  test('wrong top-level shape', () => {
    refuses('[]', '(root)', 'type');
    refuses('null', '(root)', 'type');
    refuses('"lock"', '(root)', 'type');
    refuses(
      edit((d) => (d.format = 'other' as never)),
      'format',
      'format',
    );
    refuses(
      edit((d) => (d.formatVersion = 2 as 1)),
      'formatVersion',
      'format-version',
    );
    refuses(
      edit((d) => {
        delete (d as Partial<ResolvedAbi>).structs;
      }),
      'structs',
      'missing',
    );
    refuses(
      edit((d) => (d.extra = 1)),
      'extra',
      'unknown-key',
    );
    refuses(text.replace('{', '{ "__proto__": {},'), '__proto__', 'unknown-key');
  });
  test('deep nesting and huge arrays', () => {
    const deep = JSON.stringify(doc()).replace(
      '"doc":"A demonstration ABI."',
      `"doc":${'['.repeat(100000)}${']'.repeat(100000)}`,
    );
    refuses(deep, 'doc', 'type');
    refuses(
      edit((d) => (d.structs[HDR]!.fields = Array.from({ length: 70000 }, () => 0) as never)),
      'structs[0].fields',
      'too-many',
    );
  });
});

describe('numbers and strings', () => {
  const off = `structs[${HDR}].fields[1].offset`;
  test('offsets near 2^32, negative, fractional, not numbers', () => {
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.offset = 2 ** 32)),
      off,
      'range',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.offset = -4)),
      off,
      'range',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.offset = 4.5)),
      off,
      'not-integer',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.offset = 'NaN' as never)),
      off,
      'type',
    );
    refuses(text.replace('"offset": 4,', '"offset": 1e400,'), off, 'not-integer');
  });
  test('decimal strings', () => {
    const path = `structs[${HDR}].fields[4].default`;
    for (const bad of ['1e3', '0x10', ' 7', '07', '-0', '', '7.0', '+7', 'NaN', '9'.repeat(30)]) {
      refuses(
        edit((d) => (d.structs[HDR]!.fields[4]!.default = bad)),
        path,
        'not-decimal',
      );
    }
    refuses(
      edit((d) => (d.structs[HDR]!.fields[4]!.default = 7 as never)),
      path,
      'type',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[4]!.default = '4294967296')),
      path,
      'range',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[4]!.default = '-1')),
      path,
      'range',
    );
    refuses(
      edit((d) => (d.constants[0]!.value = '18446744073709551616')),
      'constants[0].value',
      'range',
    );
  });
  test('identifiers and kinds', () => {
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.name = 'a-b')),
      `structs[${HDR}].fields[1].name`,
      'identifier',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.name = '_pad9')),
      `structs[${HDR}].fields[1].name`,
      'pad-name',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.name = '1hdr')),
      `structs[${HDR}].name`,
      'identifier',
    );
    refuses(
      edit((d) => (d.abi = 'Not_Kebab')),
      'abi',
      'abi-name',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.kind = 'float' as never)),
      `structs[${HDR}].fields[1].kind`,
      'unknown-kind',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.type = 'u128' as never)),
      `structs[${HDR}].fields[1].type`,
      'unknown-type',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.sizing = 'elastic' as never)),
      `structs[${HDR}].sizing`,
      'unknown-sizing',
    );
  });
  test('duplicate names and values', () => {
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.name = 'magic')),
      `structs[${HDR}].fields[1].name`,
      'duplicate-name',
    );
    refuses(
      edit((d) => (d.structs[1]!.name = 'hdr')),
      'structs[1].name',
      'duplicate-name',
    );
    refuses(
      edit((d) => (d.enums[0]!.values[1]!.value = 0)),
      'enums[0].values[1].value',
      'duplicate-value',
    );
    refuses(
      edit((d) => (d.records[1]!.type = 1)),
      'records[1].type',
      'duplicate-value',
    );
    refuses(
      edit((d) => (d.constants[1]!.name = 'MAGIC')),
      'constants[1].name',
      'duplicate-name',
    );
  });
  test('enum and flags ranges', () => {
    refuses(
      edit((d) => (d.enums[0]!.values[0]!.value = 256)),
      'enums[0].values[0].value',
      'range',
    );
    refuses(
      edit((d) => (d.enums[1]!.values[0]!.value = 32)),
      'enums[1].values[0].value',
      'range',
    );
  });
});

describe('layout rules', () => {
  const f = (j: number, key = 'offset') => `structs[${HDR}].fields[${j}].${key}`;
  test('offsets not increasing, overlap, gap', () => {
    refuses(
      edit((d) => (d.structs[HDR]!.fields[1]!.offset = 0)),
      f(1),
      'offsets-not-increasing',
    );
    // weight (u32 at 12) moved onto flags (u32 at 8).
    refuses(
      edit((d) => (d.structs[HDR]!.fields[5]!.offset = 8)),
      f(5),
      'offsets-not-increasing',
    );
    refuses(
      edit((d) => (d.structs[STATS]!.fields[2]!.offset = 4)),
      `structs[${STATS}].fields[2].offset`,
      'misaligned',
    );
    refuses(
      edit((d) => {
        // hits (u64 at 8..16) grows to 16 bytes: the next field now overlaps it.
        const hits = d.structs[STATS]!.fields[2]!;
        Object.assign(hits, { kind: 'array', count: 2, size: 16 });
        delete hits.default;
        delete hits.stat;
      }),
      `structs[${STATS}].fields[3].offset`,
      'overlap',
    );
    refuses(
      edit((d) => {
        d.structs[HDR]!.fields.splice(3, 1); // drop the padding byte
      }),
      f(3),
      'gap',
    );
  });
  test('fields outside the struct and sizes that do not add up', () => {
    refuses(
      edit((d) => (d.structs[HDR]!.size = 24)),
      f(7, 'size'),
      'field-outside-struct',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.size = 32)),
      `structs[${HDR}].size`,
      'gap',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.size = 30)),
      `structs[${HDR}].size`,
      'size-align',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.size = 2 ** 32)),
      `structs[${HDR}].size`,
      'range',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[0]!.size = 8)),
      f(0, 'size'),
      'size-mismatch',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[0]!.count = 2)),
      f(0, 'count'),
      'range',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.align = 3)),
      `structs[${HDR}].align`,
      'align',
    );
    refuses(
      edit((d) => (d.structs[5]!.fields[0]!.size = 32)),
      'structs[5].fields[0].size',
      'size-mismatch',
    );
  });
  test('references to unknown structs, enums, flags and constants', () => {
    refuses(
      edit((d) => (d.structs[5]!.fields[0]!.struct = 'nope')),
      'structs[5].fields[0].struct',
      'unknown-struct',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[2]!.enum = 'nope')),
      f(2, 'enum'),
      'unknown-enum',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[2]!.enum = 'caps')),
      f(2, 'enum'),
      'unknown-enum',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[4]!.flags = 'nope')),
      f(4, 'flags'),
      'unknown-flags',
    );
    refuses(
      edit((d) => (d.structs[HDR]!.fields[0]!.constant = 'NOPE')),
      f(0, 'constant'),
      'unknown-constant',
    );
    refuses(
      edit((d) => (d.records[0]!.struct = 'nope')),
      'records[0].struct',
      'unknown-struct',
    );
  });
  test('a struct that contains itself', () => {
    const cyclic = {
      ...doc(),
      structs: [
        {
          name: 'a',
          doc: '',
          size: 4,
          align: 4,
          sizing: 'fixed',
          fields: [{ name: 'b', kind: 'struct', offset: 0, size: 4, align: 4, struct: 'b', count: 1, doc: '' }],
        },
        {
          name: 'b',
          doc: '',
          size: 4,
          align: 4,
          sizing: 'fixed',
          fields: [{ name: 'a', kind: 'struct', offset: 0, size: 4, align: 4, struct: 'a', count: 1, doc: '' }],
        },
      ],
      records: [],
    };
    refuses(cyclic, 'structs[0]', 'recursive-struct');
  });
  test('seq words, groups and stats', () => {
    refuses(
      edit((d) => (d.structs[STATS]!.seqField = 'count')),
      `structs[${STATS}].seqField`,
      'seq-field',
    );
    refuses(
      edit((d) => (d.structs[STATS]!.fields[0]!.type = 'u16')),
      `structs[${STATS}].fields[0].type`,
      'seq-type',
    );
    refuses(
      edit((d) => (d.structs[5]!.fields[2]!.group = { bit: 64 })),
      'structs[5].fields[2].group.bit',
      'range',
    );
    refuses(
      edit((d) => (d.structs[5]!.fields[0]!.group = { bit: 1 })),
      'structs[5].fields[0].group',
      'group-seq',
    );
    const stat = `structs[${STATS}].fields[2].stat`;
    refuses(
      edit((d) => (d.structs[STATS]!.fields[2]!.stat!.type = 'log-hist')),
      `${stat}.type`,
      'stat-shape',
    );
    refuses(
      edit((d) => (d.structs[STATS]!.fields[2]!.stat!.unit = 'parsecs' as never)),
      `${stat}.unit`,
      'unknown-unit',
    );
    refuses(
      edit((d) => (d.structs[STATS]!.fields[2]!.stat!.bucketSize = 4)),
      `${stat}.bucketSize`,
      'stat-bucket-size',
    );
    refuses(
      edit((d) => (d.structs[STATS]!.fields[2]!.stat!.exponent = 1e6)),
      `${stat}.exponent`,
      'range',
    );
  });
});
