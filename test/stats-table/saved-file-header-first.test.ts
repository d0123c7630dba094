/**
 * A saved region file is read header first: only what its header declares (region_size) is read,
 * after checking it against the file's size — a huge or sparse file that declares little costs
 * little, and one that declares more than it holds is refused before anything is read.
 */
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import { DOMAIN_DIRECTORY_MAGIC, STATS_TABLE_MAGIC } from '../../src/formats/detect.ts';
import { frozenStatsTableRevisions } from '../../src/formats/stats-table/abi.ts';
import { openTarget, resolveTarget } from '../../src/tools/target.ts';
import { hvkitWithinEnv } from '../cli/run.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { craft } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-table-header-first-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GIB = 1 << 30;
const NEWEST = frozenStatsTableRevisions().at(-1)!;

/** A sparse file of `size` bytes whose first word is `magic` (everything else reads as zero). */
function sparseWithMagic(name: string, magic: number, size: number): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    const word = Buffer.alloc(4);
    word.writeUInt32LE(magic);
    writeSync(fd, word, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return path;
}

for (const [format, magic] of [
  ['stats-table', STATS_TABLE_MAGIC],
  ['domain-directory', DOMAIN_DIRECTORY_MAGIC],
] as const) {
  test(`a 1 GiB sparse ${format} file declaring region_size 0 is read only as far as its header`, () => {
    const path = sparseWithMagic(`sparse-${format}`, magic, GIB);
    const opened = openTarget(resolveTarget(path, undefined));
    try {
      assert.equal(opened.format, format);
      assert.ok('region' in opened);
      assert.ok(opened.region.length <= 4096, `read ${opened.region.length} bytes of a file declaring none`);
    } finally {
      opened.close();
    }
  });
}

test('check of a 1 GiB sparse table file holding only the magic exits 1, in a 256 MiB heap', async () => {
  const path = sparseWithMagic('sparse-cli', STATS_TABLE_MAGIC, GIB);
  const r = await hvkitWithinEnv(hangDeadline(60_000), { NODE_OPTIONS: '--max-old-space-size=256' }, 'check', path);
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /INVALID/);
});

test('a table file declaring more than it holds is refused by its header, naming region_size', () => {
  const c = craft(NEWEST);
  const path = join(dir, 'short');
  writeFileSync(path, c.bytes);
  c.setHeader('region_size', c.bytes.length * 2);
  writeFileSync(path, c.bytes);
  assert.throws(
    () => openTarget(resolveTarget(path, undefined)),
    (e: unknown) =>
      e instanceof FormatError && e.rule === 'region-size-exceeds-mapping' && /region_size/.test(e.message),
  );
});

test('a table file with bytes after its region reads exactly region_size bytes', () => {
  const c = craft(NEWEST);
  const path = join(dir, 'tail');
  const padded = new Uint8Array(c.bytes.length + 8192);
  padded.set(c.bytes);
  writeFileSync(path, padded);
  const opened = openTarget(resolveTarget(path, undefined));
  try {
    assert.ok('region' in opened);
    assert.equal(opened.region.length, c.layout.regionSize);
  } finally {
    opened.close();
  }
});
