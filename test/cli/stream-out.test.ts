/**
 * The streaming writers print exactly what the whole-string helpers print: writeJson as
 * toJson (JSON.stringify with bigints as decimal strings, indent 2), writeTable as renderTable
 * for a table that fits in one block — written through a real descriptor (a temp file).
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { renderTable, toJson, writeTable } from '../../src/cli/output.ts';
import { FdWriter, writeJson } from '../../src/cli/stream-out.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-stream-out-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** What `write` writes through an FdWriter (small chunks, so many flushes) on a file. */
function written(write: (out: FdWriter) => void): string {
  const path = join(dir, `out-${n++}`);
  const fd = openSync(path, 'w');
  try {
    const out = new FdWriter(fd, path, 7);
    write(out);
    out.flush();
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, 'utf8');
}

const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.string({ unit: 'grapheme' }),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
  ),
})).value;

test('property: writeJson writes what toJson returns', () => {
  fc.assert(
    fc.property(jsonish, (value) => {
      if (value === undefined) return;
      assert.equal(
        written((out) => writeJson(out, value)),
        `${toJson(value)}\n`,
      );
    }),
    { numRuns: 300 },
  );
});

test('writeJson writes a generator as an array, element by element', () => {
  function* rows() {
    yield { a: 1n };
    yield { b: [] };
  }
  assert.equal(
    written((out) => writeJson(out, { rows: rows(), empty: [], none: {} })),
    `${toJson({ rows: [{ a: 1n }, { b: [] }], empty: [], none: {} })}\n`,
  );
});

const cell = fc.string({ maxLength: 12 });

test('property: writeTable of one block writes what renderTable renders', () => {
  fc.assert(
    fc.property(
      fc.array(cell, { minLength: 1, maxLength: 4 }),
      fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 20 }),
      fc.array(fc.constantFrom('left' as const, 'right' as const), { maxLength: 4 }),
      (header, rows, align) => {
        const cut = rows.map((r) => r.slice(0, header.length));
        assert.equal(
          written((out) => writeTable(out, header, cut, align)),
          `${renderTable(header, cut, align)}\n`,
        );
      },
    ),
  );
});

test('writeTable: widths settle per block and only grow', () => {
  const rows = [['a'], ['bbbb'], ['cc'], ['d']];
  const text = written((out) => writeTable(out, ['H'], rows, ['right'], 2));
  // Block 1 (a, bbbb) is 4 wide; block 2 (cc, d) keeps 4, never narrower than before.
  assert.equal(text, '   H\n   a\nbbbb\n  cc\n   d\n');
});
