/** Property tests: lock files round-trip, and damaged lock files are refused with a FormatError. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseLock, serializeLock } from '../../src/abi/lockfile.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import { FormatError } from '../../src/errors.ts';
import { resolvedAbi } from './arbitrary.ts';

/** Runs parseLock; any exception other than a well-formed FormatError fails the property. */
function parseOrFormatError(text: string): ResolvedAbi | FormatError {
  try {
    return parseLock(text, 'fuzz.lock.json');
  } catch (e) {
    assert.ok(e instanceof FormatError, `not a FormatError: ${String(e)}`);
    assert.ok(e.field.length > 0, 'the error names a field');
    assert.match(e.rule, /^[a-z]+(-[a-z]+)*$/, 'the error names a rule');
    return e;
  }
}

test('serialize → parse round-trips every valid resolved ABI', () => {
  fc.assert(
    fc.property(resolvedAbi, (abi) => {
      const text = serializeLock(abi);
      const parsed = parseLock(text, 'rt.lock.json');
      assert.deepEqual(parsed, abi);
      assert.equal(serializeLock(parsed), text);
    }),
    { numRuns: 300 },
  );
});

test('a truncated lock file is refused', () => {
  fc.assert(
    fc.property(resolvedAbi, fc.nat(), (abi, cut) => {
      const text = serializeLock(abi);
      // Dropping only the final newline still leaves the complete document: cut at most length - 2.
      const length = cut % (text.length - 1);
      const result = parseOrFormatError(text.slice(0, length));
      assert.ok(result instanceof FormatError);
    }),
    { numRuns: 300 },
  );
});

test('a bit-flipped lock file is either still valid or refused, never a crash', () => {
  fc.assert(
    fc.property(resolvedAbi, fc.nat(), fc.nat(7), (abi, at, bit) => {
      const bytes = Buffer.from(serializeLock(abi), 'utf8');
      const i = at % bytes.length;
      bytes[i] = (bytes[i] ?? 0) ^ (1 << bit);
      const result = parseOrFormatError(new TextDecoder().decode(bytes));
      if (!(result instanceof FormatError)) {
        // Whatever was accepted must itself be a valid lock.
        assert.deepEqual(parseLock(serializeLock(result), 'again'), result);
      }
    }),
    { numRuns: 500 },
  );
});

const adversarial: unknown[] = [
  2 ** 32,
  2 ** 32 - 1,
  2 ** 53,
  -1,
  -(2 ** 31),
  1.5,
  1e308,
  'NaN',
  'Infinity',
  '-0',
  '1e3',
  '0x10',
  ' 1',
  '',
  '9'.repeat(40),
  null,
  true,
  [],
  {},
  { __proto__: null, length: 1 },
  Array.from({ length: 2000 }, () => 0),
];

/** Every path to a value inside a JSON document, as key lists. */
function paths(doc: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => {
      paths(v, [...prefix, i], out);
    });
  } else if (doc !== null && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) paths(v, [...prefix, k], out);
  }
  return out;
}

function setAt(doc: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  let node = doc as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[path.at(-1) as string | number] = value;
  return doc;
}

test('adversarial values anywhere are refused with a FormatError or accepted as valid', () => {
  fc.assert(
    fc.property(resolvedAbi, fc.nat(), fc.constantFrom(...adversarial), (abi, at, value) => {
      const doc = JSON.parse(serializeLock(abi));
      const all = paths(doc);
      const path = all[at % all.length] ?? [];
      parseOrFormatError(JSON.stringify(setAt(doc, path, structuredClone(value))));
    }),
    { numRuns: 600 },
  );
});

test('an unknown key anywhere is refused naming that key', () => {
  fc.assert(
    fc.property(resolvedAbi, fc.nat(), (abi, at) => {
      const doc = JSON.parse(serializeLock(abi));
      const objects = paths(doc).filter((p) => {
        const node = p.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], doc);
        return node !== null && typeof node === 'object' && !Array.isArray(node);
      });
      const path = objects[at % objects.length] ?? [];
      const node = path.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], doc) as object;
      Object.assign(node, { surprise: 1 });
      const result = parseOrFormatError(JSON.stringify(doc));
      assert.ok(result instanceof FormatError);
      assert.equal(result.rule, 'unknown-key');
      assert.ok(result.field.endsWith('surprise'), result.field);
    }),
    { numRuns: 300 },
  );
});

test('moving any field offset is refused', () => {
  fc.assert(
    fc.property(resolvedAbi, fc.nat(), fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), (abi, at, delta) => {
      fc.pre(delta !== 0);
      const doc = JSON.parse(serializeLock(abi)) as ResolvedAbi;
      const fields = doc.structs.flatMap((s, i) => s.fields.map((_, j) => [i, j] as const));
      const [i, j] = fields[at % fields.length]!;
      const f = doc.structs[i]!.fields[j]!;
      f.offset += delta;
      const result = parseOrFormatError(JSON.stringify(doc));
      assert.ok(result instanceof FormatError);
      assert.ok(result.field.startsWith(`structs[${i}]`), `${result.field} ${result.rule}`);
    }),
    { numRuns: 300 },
  );
});
