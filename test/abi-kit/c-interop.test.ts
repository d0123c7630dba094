/**
 * `hvkit abi check` compiles a C consumer of every revision against data produced at every other
 * revision: compatible revisions read back exactly; a layout that moved is caught, naming the
 * revision pair and the field; the pairs are bounded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALL_PAIRS_UP_TO,
  checkCInterop,
  MAX_INTEROP_BYTES,
  produce,
  producersFor,
  valueAt,
} from '../../src/abi/c-interop.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { findStruct } from '../../src/abi/resolved.ts';
import { type AbiSpec, array, chars, int, nested, reserved } from '../../src/abi/schema.ts';
import { hasCompiler } from '../abi-gen/cprobe.ts';

const cc = hasCompiler('cc');

function spec(fields: AbiSpec['structs'][number]['fields'], extra: AbiSpec['structs'] = []): AbiSpec {
  return {
    name: 'wire',
    doc: 'A test ABI.',
    major: 1,
    structs: [...extra, { name: 'header', doc: 'The header.', sizing: 'versioned', fields }],
  };
}

const item = {
  name: 'item',
  doc: 'An element.',
  sizing: 'fixed' as const,
  fields: [int('id', 'u16', 'Id.'), int('level', 's8', 'Level.'), reserved('spare', 5)],
};

/** rev 1, rev 2 (carves `c` out of reserved bytes, appends `d`), rev 3 (renames `b` to `bee`). */
function history() {
  const rev1 = spec(
    [
      int('a', 'u32', 'A.'),
      int('b', 'u16', 'B.'),
      reserved('spare', 6),
      nested('items', 'item', 'Items.', { length: 3 }),
    ],
    [item],
  );
  const rev2 = spec(
    [
      int('a', 'u32', 'A.'),
      int('b', 'u16', 'B.'),
      int('c', 'u16', 'C.'),
      reserved('spare', 4),
      nested('items', 'item', 'Items.', { length: 3 }),
      int('d', 'u64', 'D.'),
      chars('tag', 6, 'Tag.'),
    ],
    [item],
  );
  const rev3 = structuredClone(rev2);
  const header = rev3.structs[1];
  assert.ok(header);
  header.fields[1] = int('bee', 'u16', 'B, renamed.', { renamedFrom: ['b'] });
  return [rev1, rev2, rev3].map((s, i) => resolveAbi(s, i + 1));
}

describe('C consumers across revisions', () => {
  test('every consumer reads what every producer wrote, zero for fields the producer lacks', (t) => {
    if (!cc) return t.skip('cc is not installed');
    const result = checkCInterop(history(), 'cc');
    assert.deepEqual(result.lines, []);
    assert.equal(result.errors, 0);
    assert.equal(result.consumers, 3);
    assert.equal(result.pairs, 9);
  });

  test('a revision whose layout moved a field is caught, naming the pair and the field', (t) => {
    if (!cc) return t.skip('cc is not installed');
    const revs = history();
    // A hand-made revision 2 with a and b swapped: what a frozen lock edited by hand could say.
    const moved = spec([int('b', 'u16', 'B.'), int('a', 'u32', 'A.'), reserved('spare', 2)], [item]);
    const broken = [revs[0], resolveAbi({ ...moved }, 2)].filter((r) => r !== undefined);
    const result = checkCInterop(broken, 'cc');
    assert.ok(result.errors > 0);
    assert.ok(
      result.lines.some((l) => /^wire rev 1 reading rev 2: header\.a: c-interop: read \d+, expected \d+$/.test(l)),
      result.lines.join('\n'),
    );
    assert.ok(result.lines.some((l) => l.startsWith('wire rev 2 reading rev 1: header.b: c-interop:')));
  });

  test('the producer writes valueAt(offset, width) into every element, little or big endian as the host', () => {
    const [rev1] = history();
    assert.ok(rev1);
    const header = findStruct(rev1, 'header');
    assert.ok(header);
    const bytes = produce(rev1, header);
    const view = new DataView(bytes.buffer);
    assert.equal(BigInt(view.getUint32(0, true)), valueAt(0, 4));
    assert.equal(BigInt(view.getUint16(4, true)), valueAt(4, 2));
    assert.deepEqual([...bytes.subarray(6, 12)], [0, 0, 0, 0, 0, 0], 'reserved bytes stay zero');
    // items[1].level: the second element of a nested array.
    const items = header.fields.find((f) => f.name === 'items');
    assert.ok(items);
    const level = items.offset + 8 + 2;
    assert.equal(BigInt(view.getUint8(level)), valueAt(level, 1));
  });

  test('values are non-zero and keep the top bit clear (signed fields read them unchanged)', () => {
    for (const width of [1, 2, 4, 8]) {
      for (let offset = 0; offset < 512; offset++) {
        const v = valueAt(offset, width);
        assert.ok(v > 0n && v < 1n << BigInt(width * 8 - 1), `${offset}/${width}: ${v}`);
      }
    }
  });

  test('pairs: all of them up to the bound, then neighbours, first, last and itself', () => {
    assert.deepEqual(producersFor(3, 1), [0, 1, 2]);
    assert.equal(producersFor(ALL_PAIRS_UP_TO, 0).length, ALL_PAIRS_UP_TO);
    assert.deepEqual(producersFor(20, 10), [0, 9, 10, 11, 19]);
    assert.deepEqual(producersFor(20, 0), [0, 1, 19]);
    assert.deepEqual(producersFor(20, 19), [0, 18, 19]);
  });

  test('structs too large for a consumer program are left out with an info line, the rest still checked', (t) => {
    if (!cc) return t.skip('cc is not installed');
    const cell = { name: 'cell', doc: 'A cell.', sizing: 'fixed' as const, fields: [int('v', 'u8', 'V.')] };
    const big = {
      name: 'big',
      doc: 'Big.',
      sizing: 'fixed' as const,
      fields: [array('bytes', 'u8', MAX_INTEROP_BYTES + 1, 'Bytes.')],
    };
    const many = {
      name: 'many',
      doc: 'Many nested elements.',
      sizing: 'fixed' as const,
      fields: [nested('cells', 'cell', 'Cells.', { length: 5000 })],
    };
    const rev = resolveAbi(spec([int('a', 'u32', 'A.'), reserved('spare', 4)], [cell, big, many]), 1);
    const result = checkCInterop([rev], 'cc');
    assert.equal(result.errors, 0, result.lines.join('\n'));
    assert.deepEqual(result.notes, [
      `wire rev 1: big: c-interop: info: not read by the C consumer (over ${MAX_INTEROP_BYTES} bytes or 4096 fields)`,
      `wire rev 1: many: c-interop: info: not read by the C consumer (over ${MAX_INTEROP_BYTES} bytes or 4096 fields)`,
    ]);
    assert.equal(result.pairs, 1);
  });
});
