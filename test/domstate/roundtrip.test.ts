import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDomainDirectory } from '../../src/formats/domstate/checker.ts';
import { DomainDirectoryReader } from '../../src/formats/domstate/reader.ts';
import { sharedRegionFrom } from '../../src/shm/region.ts';
import { ABI, freshDirectory } from './helpers.ts';

test('layout: header, 32768 entries of 32 bytes, a whole number of pages', () => {
  const { writer } = freshDirectory();
  const L = writer.layout;
  assert.equal(L.nrEntries, 32768);
  assert.equal(L.entrySize, 32);
  assert.ok(L.entriesOffs >= L.headerSize);
  assert.equal(L.regionSize % 4096, 0);
  assert.ok(L.regionSize >= L.entriesOffs + L.nrEntries * L.entryStride);
});

test('a published entry reads back exactly; a fresh directory checks clean', () => {
  const { region, writer } = freshDirectory();
  const reader = DomainDirectoryReader.open(sharedRegionFrom(region.buffer), ABI);
  assert.deepEqual(reader.owner, { pid: 4242, startTime: 777n });
  assert.equal(reader.list().length, 0);
  assert.deepEqual(checkDomainDirectory(region, ABI).violations, []);
  const before = reader.changes();
  writer.publish(7, { state: 'paused', uniqueId: 0xfedc_ba98_7654_3210n, generation: 3, stats: true, nrVcpus: 2 });
  assert.equal(reader.changes(), before + 1);
  const e = reader.entry(7);
  assert.equal(e.state, 'paused');
  assert.equal(e.uniqueId, 0xfedc_ba98_7654_3210n);
  assert.equal(e.generation, 3);
  assert.equal(e.stats, true);
  assert.equal(e.nrVcpus, 2);
  assert.equal(e.torn, false);
  assert.equal(e.seq % 2, 0);
  assert.equal(reader.entry(8).state, 'none');
  assert.deepEqual(
    reader.list().map((x) => x.domid),
    [7],
  );
  assert.deepEqual(checkDomainDirectory(region, ABI).violations, []);
});

test('an unprivileged reader detects domid reuse by unique id and generation', () => {
  const { region, writer } = freshDirectory();
  const reader = DomainDirectoryReader.open(sharedRegionFrom(region.buffer), ABI);
  writer.publish(1, { state: 'running', uniqueId: 111n, generation: 1, stats: true, nrVcpus: 1 });
  const first = reader.entry(1);
  const c1 = checkDomainDirectory(region, ABI);
  writer.publish(1, { state: 'dying', uniqueId: 111n, generation: 1, stats: true, nrVcpus: 1 });
  writer.publish(1, { state: 'destroyed', uniqueId: 111n, generation: 1, stats: false, nrVcpus: 1 });
  writer.publish(1, { state: 'running', uniqueId: 222n, generation: 2, stats: true, nrVcpus: 4 });
  const second = reader.entry(1);
  assert.notEqual(second.uniqueId, first.uniqueId);
  assert.equal(second.generation, first.generation + 1);
  const c2 = checkDomainDirectory(region, ABI, { previous: c1 });
  assert.deepEqual(c2.violations, []);
});

test('the checker catches a producer that breaks the rules', () => {
  const { region, writer } = freshDirectory();
  writer.publish(1, { state: 'running', uniqueId: 5n, generation: 1, stats: false, nrVcpus: 1 });
  writer.publish(2, { state: 'running', uniqueId: 5n, generation: 1, stats: false, nrVcpus: 1 });
  const c1 = checkDomainDirectory(region, ABI);
  assert.deepEqual(
    c1.violations.map((v) => `${v.field}:${v.rule}`),
    ['entry[2].unique_id:unique-id-duplicate'],
  );
  writer.publish(2, { state: 'running', uniqueId: 6n, generation: 1, stats: false, nrVcpus: 1 });
  writer.publish(1, { state: 'destroyed', uniqueId: 5n, generation: 1, stats: false, nrVcpus: 1 });
  const c2 = checkDomainDirectory(region, ABI);
  writer.publish(1, { state: 'running', uniqueId: 5n, generation: 1, stats: false, nrVcpus: 1 });
  writer.publish(2, { state: 'running', uniqueId: 7n, generation: 1, stats: false, nrVcpus: 1 });
  const rules = checkDomainDirectory(region, ABI, { previous: c2 }).violations.map((v) => `${v.field}:${v.rule}`);
  assert.deepEqual(rules, ['entry[1].state:resurrected', 'entry[2].generation:reuse-without-generation']);
  // Raw corruption: reserved bytes, entry 0, an odd sequence word, an unknown state.
  const words = region.words;
  const base = writer.layout.entriesOffs / 4;
  const stride = writer.layout.entryStride / 4;
  words[base + 3 * stride + 7] = 1; // entry[3].entry_reserved
  words[base + 1] = 9; // entry[0].state
  words[base + 4 * stride] = 1; // entry[4].seq odd
  words[base + 2 * stride + 1] = 99; // entry[2].state unknown
  words[base + 5 * stride + 4] = 3; // entry[5].generation while never used
  const found = checkDomainDirectory(region, ABI, { maxRetries: 2 }).violations.map((v) => v.rule);
  for (const rule of ['reserved-nonzero', 'domid0-used', 'seq-odd', 'state-unknown', 'never-used-with-data']) {
    assert.ok(found.includes(rule), `${rule} in ${found.join(', ')}`);
  }
});

test('the writer refuses bad input and the reader refuses out-of-range domids', () => {
  const { region, writer } = freshDirectory();
  const ok = { state: 'running', uniqueId: 1n, generation: 1, stats: false, nrVcpus: 1 } as const;
  assert.throws(() => writer.publish(0, ok), /domid/);
  assert.throws(() => writer.publish(32768, ok), /domid/);
  assert.throws(() => writer.publish(1, { ...ok, uniqueId: 0n }), /unique/);
  assert.throws(() => writer.publish(1, { ...ok, generation: 0 }), /generation/);
  const reader = DomainDirectoryReader.open(region, ABI);
  assert.throws(() => reader.entry(32768), /domid/);
  region.close();
  assert.throws(() => reader.entry(1), /closed/);
  assert.throws(() => writer.publish(1, ok), /closed/);
});
