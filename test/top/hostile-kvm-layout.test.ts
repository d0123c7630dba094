/**
 * top samples a stats fd every interval: descriptors piled on the same data items must not
 * multiply what each sample copies. The buckets copied stay within the same budget dump lists.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kvmStatPlan, kvmStatSamples } from '../../src/attach/stat-samples.ts';
import { bufferSource, KvmStatsReader, listingBudget, StatType } from '../../src/formats/kvm-stats/index.ts';
import { craft, type RawDesc } from '../kvm-stats/fixtures.ts';

test('2000 histograms of 65535 buckets on one block: each sample copies at most the listing budget', () => {
  const words = 65535;
  const descs: RawDesc[] = Array.from({ length: 2000 }, (_, i) => ({
    flags: i % 2 ? StatType.LogHist : StatType.LinearHist,
    size: words,
    offset: 0,
    bucketSize: i % 2 ? 0 : 3,
  }));
  descs.push({ flags: StatType.Cumulative, size: 1, offset: 8, bucketSize: 0 });
  const bytes = craft({ descs, data: Array.from({ length: words }, (_, i) => BigInt(i % 5)) });
  const reader = KvmStatsReader.open(bufferSource(bytes));
  const samples = kvmStatSamples(reader.layout, reader.readData());
  const copied = samples.reduce((n, s) => n + (s.buckets?.length ?? 0), 0);
  assert.ok(copied <= listingBudget(words), `copied ${copied} buckets`);
  assert.ok(copied >= words, 'the first histogram is still sampled whole');
  assert.equal(samples.length, 2001, 'every stat is still a sample');
  assert.equal(samples.at(-1)?.value, 1n);
  assert.equal(kvmStatPlan(reader.layout).filter((t) => t.bucketsOmitted).length, 2000 - 2);
});

test('a kernel-shaped layout (no shared items) is sampled whole', () => {
  const descs: RawDesc[] = [
    { flags: StatType.Cumulative, size: 1, offset: 0, bucketSize: 0 },
    { flags: StatType.LogHist, size: 32, offset: 8, bucketSize: 0 },
    { flags: StatType.LinearHist, size: 16, offset: 8 + 32 * 8, bucketSize: 10 },
  ];
  const bytes = craft({ descs, data: Array.from({ length: 49 }, (_, i) => BigInt(i)) });
  const reader = KvmStatsReader.open(bufferSource(bytes));
  const samples = kvmStatSamples(reader.layout, reader.readData());
  assert.deepEqual(
    samples.map((s) => s.buckets?.length ?? 0),
    [0, 32, 16],
  );
});
