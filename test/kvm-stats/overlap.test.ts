/**
 * Hostile overlap: descriptors piled on the same data items (thousands of 65535-bucket
 * histograms over one block) must not multiply the work of describe, dump or check. Work (data
 * items visited, counted by a meter), listed items, violations and output stay linear in the
 * file, and the summaries of stats described without their items are still exact. Large
 * histograms render through the CLI without overflowing the stack.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { renderTable } from '../../src/cli/output.ts';
import {
  bufferSource,
  checkKvmStats,
  describeKvmStats,
  describeStat,
  KvmStatsReader,
  listingBudget,
  StatType,
  StatUnit,
  type WorkMeter,
} from '../../src/formats/kvm-stats/index.ts';
import { dumpToText } from '../../src/tools/dump-text.ts';
import { hvkitWithin } from '../cli/run.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { craft, type RawDesc } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-kvm-overlap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const flags = (type: number, unit = StatUnit.None) => type | (unit << 4);

/** A file of `descs` over a data block of `words` items, item i holding `value(i)`. */
function file(descs: RawDesc[], words: number, value: (i: number) => bigint = (i) => BigInt(i % 7)): Uint8Array {
  return craft({ descs, data: Array.from({ length: words }, (_, i) => value(i)) });
}

const descArb = (words: number) =>
  fc
    .record({
      type: fc.constantFrom(StatType.LogHist, StatType.LinearHist, StatType.Cumulative),
      start: fc.integer({ min: 0, max: words - 1 }),
      size: fc.oneof(fc.constant(65535), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 64 })),
    })
    .map(({ type, start, size }) => {
      const fit = Math.max(1, Math.min(size, words - start));
      const histogram = type !== StatType.Cumulative;
      return {
        flags: flags(type),
        size: histogram ? fit : 1,
        offset: start * 8,
        bucketSize: type === StatType.LinearHist ? 3 : 0,
      } satisfies RawDesc;
    });

const fileArb = fc
  .integer({ min: 1, max: 70_000 })
  .chain((words) => fc.tuple(fc.constant(words), fc.array(descArb(words), { minLength: 1, maxLength: 300 })));

test('property: describe, dump and check of overlapping histograms stay linear in the file', () => {
  fc.assert(
    fc.property(fileArb, ([words, descs]) => {
      const bytes = file(descs, words);
      const reader = KvmStatsReader.open(bufferSource(bytes));
      const values = reader.readData();
      const dataWords = values.length;
      const perDescriptor = 64; // a few binary searches and constant work each
      const bound = 8 * dataWords + perDescriptor * descs.length + 8 * listingBudget(dataWords);

      const meter: WorkMeter = { items: 0 };
      const description = describeKvmStats(reader.layout, values, { meter });
      assert.ok(meter.items <= bound, `describe visited ${meter.items} items, bound ${bound}`);
      let listed = 0;
      for (const r of description.rows) listed += r.raw.length + (r.histogram?.buckets.length ?? 0);
      assert.ok(listed <= 2 * listingBudget(dataWords) + descs.length, `listed ${listed} items`);

      // Summaries of the stats described without their items are exact.
      for (const r of description.rows.filter((x) => x.itemsOmitted && x.histogram).slice(0, 5)) {
        const d = reader.layout.descriptors[r.index]!;
        const full = describeStat(d, values.subarray(d.word, d.word + d.size)).histogram!;
        assert.deepEqual({ ...r.histogram!, buckets: [] }, { ...full, buckets: [] });
      }

      const text = dumpToText({ target: 'hostile', format: 'kvm-stats', stats: description });
      renderTable(text.table.header, text.table.rows, text.table.align);

      const checkMeter: WorkMeter = { items: 0 };
      checkKvmStats(bufferSource(bytes), { samples: 2, meter: checkMeter });
      assert.ok(checkMeter.items <= 4 * bound, `check visited ${checkMeter.items} items`);
    }),
    { numRuns: 25 },
  );
});

test('property: a word that went down is reported once, not once per overlapping stat', () => {
  fc.assert(
    fc.property(fileArb, ([words, descs]) => {
      const bytes = file(descs, words, () => 5n);
      const dataOffset = new DataView(bytes.buffer, bytes.byteOffset).getUint32(20, true);
      const dataWords = KvmStatsReader.open(bufferSource(bytes)).readData().length;
      // Every item drops between the two samples: a reset on every word a monotonic stat covers.
      const result = checkKvmStats(bufferSource(bytes), {
        samples: 2,
        betweenSamples: () => new Uint8Array(bytes.buffer, bytes.byteOffset + dataOffset, dataWords * 8).fill(0),
      });
      const resets = result.violations.filter((v) => v.rule === 'reset').length;
      assert.ok(resets <= dataWords, `${resets} resets for ${dataWords} data words`);
      assert.ok(resets > 0);
    }),
    { numRuns: 25 },
  );
});

test('2000 log2 histograms of 65535 buckets on the same items: describe lists each item a bounded number of times', () => {
  const descs = Array.from({ length: 2000 }, () => ({ flags: flags(StatType.LogHist), size: 65535, offset: 0 }));
  const bytes = file(descs, 65535, (i) => BigInt(i & 3));
  const reader = KvmStatsReader.open(bufferSource(bytes));
  const meter: WorkMeter = { items: 0 };
  const description = describeKvmStats(reader.layout, reader.readData(), { meter });
  assert.ok(meter.items <= 40 * 65535, `visited ${meter.items}`);
  assert.equal(description.itemsOmitted, 1998);
  const last = description.rows.at(-1)!;
  assert.equal(last.histogram?.total, description.rows[0]!.histogram?.total);
  assert.deepEqual(last.histogram?.p50, description.rows[0]!.histogram?.p50);
});

test('hvkit dump renders large non-overlapping histograms (262k bucket rows) without overflowing the stack', async () => {
  const descs = Array.from({ length: 4 }, (_, i) => ({
    flags: flags(StatType.LinearHist, StatUnit.Seconds),
    exponent: -9,
    size: 65535,
    offset: i * 65535 * 8,
    bucketSize: 10,
    name: `hist_${i}`,
  }));
  const path = join(dir, 'large.kvmstats');
  writeFileSync(
    path,
    file(descs, 4 * 65535, () => 1n),
  );
  const check = await hvkitWithin(hangDeadline(120_000), 'check', path);
  assert.equal(check.code, 0, check.err);
  const dump = await hvkitWithin(hangDeadline(120_000), 'dump', path);
  assert.equal(dump.code, 0, dump.err);
  assert.doesNotMatch(dump.err, /Maximum call stack/);
  assert.match(dump.out, /hist_3\s+linear-hist\s+seconds\s+65535 samples/);
});

test('hvkit dump of 2000 overlapping 65535-bucket histograms finishes and says what it left out', async () => {
  const descs = Array.from({ length: 2000 }, (_, i) => ({
    flags: flags(StatType.LogHist),
    size: 65535,
    offset: (i % 8) * 8,
    name: `h${i}`,
  }));
  const path = join(dir, 'overlap.kvmstats');
  writeFileSync(
    path,
    file(descs, 65535 + 8, () => 1n),
  );
  const dump = await hvkitWithin(hangDeadline(60_000), 'dump', path);
  assert.equal(dump.code, 0, dump.err);
  assert.match(dump.out, /note: 1998 stat\(s\) share data items/);
  const json = await hvkitWithin(hangDeadline(60_000), 'dump', '--json', path);
  assert.equal(json.code, 0, json.err);
  assert.ok(json.out.length < 200 * 65535 * 8, `${json.out.length} bytes of JSON`);
});
