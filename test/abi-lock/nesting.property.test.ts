/**
 * Struct nesting depth is bounded when a lock file or a schema is read (MAX_STRUCT_NESTING), so
 * nothing that later walks nested structs — the stream struct codec, the generators, the checker
 * — can overflow the stack: any depth gives a result or the typed error, never a RangeError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { generateCHeader } from '../../src/abi/gen-c.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { parseLock } from '../../src/abi/lockfile.ts';
import {
  LOCK_FORMAT,
  LOCK_FORMAT_VERSION,
  MAX_STRUCT_NESTING,
  type ResolvedAbi,
  type ResolvedStruct,
} from '../../src/abi/resolved.ts';
import type { AbiSpec, StructSpec } from '../../src/abi/schema.ts';
import { FormatError } from '../../src/errors.ts';
import { decodeStruct, encodeStruct } from '../../src/formats/stream/struct-codec.ts';

/** s0 holds one u8; s<k> holds s<k-1>: struct s<depth-1> nests `depth` deep. */
function chainLock(depth: number, outermostFirst: boolean): ResolvedAbi {
  const structs: ResolvedStruct[] = [];
  for (let k = 0; k < depth; k++) {
    const common = { offset: 0, size: 1, align: 1, count: 1, doc: '' };
    structs.push({
      name: `s${k}`,
      doc: '',
      size: 1,
      align: 1,
      sizing: 'fixed',
      fields: [
        k === 0
          ? { name: 'v', kind: 'int', type: 'u8', default: '0', ...common }
          : { name: 'inner', kind: 'struct', struct: `s${k - 1}`, ...common },
      ],
    });
  }
  if (outermostFirst) structs.reverse();
  const base = { format: LOCK_FORMAT, formatVersion: LOCK_FORMAT_VERSION, abi: 'deep', doc: '', major: 1 } as const;
  return { ...base, revision: 1, constants: [], enums: [], structs, records: [] };
}

function chainSpec(depth: number, outermostFirst: boolean): AbiSpec {
  const structs: StructSpec[] = [];
  for (let k = 0; k < depth; k++) {
    structs.push({
      name: `s${k}`,
      doc: '',
      sizing: 'fixed',
      fields: [
        k === 0
          ? { kind: 'int', name: 'v', type: 'u8', doc: '' }
          : { kind: 'struct', name: 'inner', struct: `s${k - 1}`, doc: '' },
      ],
    });
  }
  if (outermostFirst) structs.reverse();
  return { name: 'deep', doc: '', major: 1, structs };
}

/** The innermost value wrapped `depth - 1` times. */
function chainValue(depth: number, v: bigint) {
  let value: Record<string, unknown> = { v };
  for (let k = 1; k < depth; k++) value = { inner: value };
  return value as never;
}

/** The typed error, naming a struct s<k> that really nests too deep (s<k> is k + 1 deep). */
function isNestingError(e: unknown): boolean {
  if (!(e instanceof FormatError) || e.rule !== 'nesting-too-deep') return false;
  const k = /\bs(\d+)\b/.exec(e.message)?.[1];
  return k !== undefined && Number(k) + 1 > MAX_STRUCT_NESTING;
}

/** Depths around the bound, and far beyond it. */
const depth = fc.oneof(
  fc.integer({ min: 1, max: 2 * MAX_STRUCT_NESTING }),
  fc.constantFrom(MAX_STRUCT_NESTING, MAX_STRUCT_NESTING + 1, 1000, 10_000),
);

describe('struct nesting depth', () => {
  test('a lock file of any nesting depth parses and round-trips through the codec, or is refused by name', () => {
    fc.assert(
      fc.property(depth, fc.boolean(), fc.integer({ min: 0, max: 255 }), (d, outermostFirst, byte) => {
        const text = JSON.stringify(chainLock(d, outermostFirst));
        const outer = `s${d - 1}`;
        let abi: ResolvedAbi;
        try {
          abi = parseLock(text, 'deep.lock.json');
        } catch (e) {
          assert.ok(isNestingError(e), `depth ${d}: ${String(e)}`);
          assert.ok(d > MAX_STRUCT_NESTING, `depth ${d} is within the bound`);
          return;
        }
        assert.ok(d <= MAX_STRUCT_NESTING, `depth ${d} was accepted`);
        const bytes = encodeStruct(abi, outer, chainValue(d, BigInt(byte)));
        assert.deepEqual([...bytes], [byte]);
        assert.deepEqual(decodeStruct(abi, outer, bytes), chainValue(d, BigInt(byte)));
        assert.match(generateCHeader(abi), new RegExp(`struct hvkit_deep_${outer} \\{`));
      }),
      { numRuns: 60 },
    );
  });

  test('a schema of any nesting depth resolves, or is refused by name', () => {
    fc.assert(
      fc.property(depth, fc.boolean(), (d, outermostFirst) => {
        try {
          const abi = resolveAbi(chainSpec(d, outermostFirst), 0);
          assert.ok(d <= MAX_STRUCT_NESTING, `depth ${d} was accepted`);
          assert.equal(abi.structs.length, d);
        } catch (e) {
          assert.ok(isNestingError(e), `depth ${d}: ${String(e)}`);
          assert.ok(d > MAX_STRUCT_NESTING, `depth ${d} is within the bound`);
        }
      }),
      { numRuns: 60 },
    );
  });

  test('the stream codec refuses a deeper ResolvedAbi that did not come from a lock file', () => {
    const abi = chainLock(10_000, true);
    assert.throws(
      () => decodeStruct(abi, 's9999', new Uint8Array(1)),
      (e: unknown) => e instanceof FormatError && e.rule === 'nesting-too-deep',
    );
    assert.throws(
      () => encodeStruct(abi, 's9999', chainValue(10_000, 1n)),
      (e: unknown) => e instanceof FormatError && e.rule === 'nesting-too-deep',
    );
  });
});
