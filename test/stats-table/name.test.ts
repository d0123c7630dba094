/**
 * The domain's name (rev ≥ 5): round trip, absent from older producers, refused by the writer
 * when it does not fit, and hostile bytes read without crashing, reported by the checker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '../../src/errors.ts';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { checkStatsTable } from '../../src/formats/stats-table/checker.ts';
import { describeTable } from '../../src/formats/stats-table/describe.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion } from '../../src/shm/region.ts';
import { EXPECTED_NAME } from './fixtures/values.ts';
import { craft, rules } from './helpers.ts';

const REVS = frozenStatsTableRevisions();
const NEWEST = REVS[REVS.length - 1]!;
const NAMED = REVS.filter((r) => tableModel(statsTableRevision(r)).domName !== undefined);
const UNNAMED = REVS.filter((r) => !NAMED.includes(r));

function setup(rev: number) {
  const abi = statsTableRevision(rev);
  const options = { nrVcpus: 1 };
  const region = createSharedRegion(StatsTableWriter.plan(abi, options).regionSize);
  return { abi, region, writer: StatsTableWriter.create(region, abi, options) };
}

test('the name field: 16 bytes carved from the dom header’s reserved bytes in rev 5', () => {
  assert.ok(NAMED.includes(5) && !NAMED.includes(4));
  const field = tableModel(statsTableRevision(5)).domName!;
  assert.equal(field.length, 16);
  const old = tableModel(statsTableRevision(4));
  const reserved = old.domZero.find((z) => z.name === 'layout_reserved')!;
  assert.equal(field.offset, reserved.offset, 'carved at the start of the old reserved bytes');
  assert.equal(tableModel(statsTableRevision(5)).domSize, old.domSize, 'no size changed');
});

test('name round trip for every revision that has it, written after the reader opened', () => {
  const names = fc.string({ unit: 'grapheme', maxLength: 15 }).filter((s) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the writer refuses control characters
    return new TextEncoder().encode(s).length <= 15 && !/[\u0000-\u001f\u007f-\u009f]/.test(s);
  });
  for (const rev of NAMED) {
    const { abi, region, writer } = setup(rev);
    const reader = StatsTableReader.open(region, abi);
    assert.equal(reader.identity().name, undefined, 'not published yet');
    fc.assert(
      fc.property(names, (name) => {
        writer.setIdentity({ name });
        assert.equal(reader.identity().name, name === '' ? undefined : name);
        assert.deepEqual(checkStatsTable(region, abi).violations, []);
      }),
      { numRuns: 300 },
    );
    writer.setIdentity({ name: EXPECTED_NAME, domid: 4 });
    assert.deepEqual(reader.read().identity, { domid: 4, name: EXPECTED_NAME });
    const row = describeTable(reader.read()).find((r) => r.group === 'identity' && r.counter === 'name')!;
    assert.deepEqual([row.state, row.text, row.value], ['value', EXPECTED_NAME, undefined]);
    // A shorter name leaves no bytes of the longer one behind.
    writer.setIdentity({ name: 'ab' });
    assert.equal(reader.identity().name, 'ab');
    assert.deepEqual(checkStatsTable(region, abi).violations, []);
    region.close();
  }
});

test('rev ≤ 4 producers: the name is absent for a newest consumer, and their writers refuse one', () => {
  for (const rev of UNNAMED) {
    const { region, writer } = setup(rev);
    assert.throws(
      () => writer.setIdentity({ name: 'web' }),
      (e: unknown) => e instanceof UsageError && new RegExp(`revision ${rev} has no name field`).test(e.message),
    );
    const table = StatsTableReader.open(region, statsTableRevision(NEWEST)).read();
    assert.equal(table.identity.name, undefined);
    const row = describeTable(table).find((r) => r.group === 'identity' && r.counter === 'name')!;
    assert.equal(row.state, 'absent');
    region.close();
  }
  // Bytes where a rev-5 name would be are a rev-4 producer's reserved bytes: never read as a name.
  const c = craft(4);
  const at = tableModel(statsTableRevision(5)).domName!.offset;
  c.bytes.set(new TextEncoder().encode('ghost'), at);
  const region = c.region();
  assert.equal(StatsTableReader.open(region, statsTableRevision(5)).identity().name, undefined);
  assert.ok(
    rules(checkStatsTable(region, statsTableRevision(5)).violations).includes('dom.layout_reserved reserved-nonzero'),
  );
});

test('the writer refuses names that do not fit or are not plain text, writing nothing', () => {
  const { abi, region, writer } = setup(NEWEST);
  writer.setIdentity({ name: 'keep' });
  const bad: unknown[] = [
    'sixteen-bytes-xx', // 16 bytes
    'ééééééééé', // 9 characters, 18 bytes
    'a\0b',
    'tab\there',
    'esc\u001b[31m',
    'del\u007f',
    'c1\u0085',
    7,
  ];
  for (const name of bad) {
    assert.throws(() => writer.setIdentity({ name: name as string, domid: 3 }), UsageError, JSON.stringify(name));
  }
  assert.equal(StatsTableReader.open(region, abi).identity().name, 'keep');
  assert.equal(StatsTableReader.open(region, abi).identity().domid, undefined, 'a refused call writes nothing');
  writer.setIdentity({ name: 'fifteen-bytes-x' });
  writer.setIdentity({ name: '' });
  assert.equal(StatsTableReader.open(region, abi).identity().name, undefined, 'empty = not published');
  assert.throws(() => StatsTableWriter.checkIdentity(abi, { name: 'sixteen-bytes-xx' }), UsageError);
  region.close();
});

test('hostile name bytes: never a crash, never control characters on a screen; the checker names the rule', () => {
  const field = tableModel(statsTableRevision(NEWEST)).domName!;
  const cases: [string, number[], string | undefined, string[]][] = [
    ['bytes after the NUL', [0x61, 0x62, 0, 0x63], 'ab', ['dom.name name-bytes-after-nul']],
    ['no NUL in the field', Array(16).fill(0x41), 'A'.repeat(16), ['dom.name name-unterminated']],
    ['invalid UTF-8', [0x61, 0xff, 0xfe], undefined, ['dom.name name-invalid-utf8']],
    ['a truncated sequence', [0x77, 0xc3], undefined, ['dom.name name-invalid-utf8']],
    ['an escape sequence', [0x1b, 0x5b, 0x32, 0x4a], undefined, ['dom.name name-control-character']],
    ['a C1 control', [0x61, 0xc2, 0x9b], undefined, ['dom.name name-control-character']],
    [
      'everything at once',
      [0x0a, 0xc0, 0, 0x01],
      undefined,
      ['dom.name name-bytes-after-nul', 'dom.name name-invalid-utf8'],
    ],
  ];
  for (const [what, bytes, name, want] of cases) {
    const c = craft(NEWEST);
    c.bytes.fill(0, field.offset, field.offset + field.length);
    c.bytes.set(bytes, field.offset);
    const region = c.region();
    const abi = statsTableRevision(NEWEST);
    const reader = StatsTableReader.open(region, abi);
    assert.equal(reader.identity().name, name, what);
    assert.equal(reader.read().identity.name, name, what);
    const got = rules(checkStatsTable(region, abi).violations).filter((r) => r.startsWith('dom.name'));
    assert.deepEqual(got, want, what);
  }
  // Random bytes: the reader and checker never throw, and a decoded name is always plain text.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: field.length, maxLength: field.length }), (bytes) => {
      const c = craft(NEWEST);
      c.bytes.set(bytes, field.offset);
      const abi = statsTableRevision(NEWEST);
      const name = StatsTableReader.open(c.region(), abi).identity().name;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting there are none
      if (name !== undefined) assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(name) && name.length > 0);
      checkStatsTable(c.region(), abi);
    }),
    { numRuns: 300 },
  );
});
