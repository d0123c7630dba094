import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import {
  bufferSource,
  checkKvmStats,
  KvmStatsReader,
  readLayout,
  StatType,
  StatUnit,
} from '../../src/formats/kvm-stats/index.ts';
import { KvmStatsWriter, writeKvmStats } from '../support/kvm-stats-writer.ts';

function rejects(fn: () => unknown, field: string, rule: string) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    assert.equal(`${e.field} ${e.rule}`, `${field} ${rule}`);
    return true;
  });
}

test('name_size grows in steps of 8 for long names and keeps every block aligned', () => {
  const long = 'x'.repeat(60);
  const bytes = writeKvmStats('kvm-1', [{ name: long, type: StatType.Cumulative, value: 3n }]);
  const layout = readLayout(bufferSource(bytes));
  assert.equal(layout.header.nameSize, 64);
  assert.equal(layout.header.descOffset, 24 + 64);
  assert.equal(layout.header.dataOffset, 24 + 64 + 80);
  assert.equal(checkKvmStats(bufferSource(bytes)).violations.length, 0);
});

test('an empty stat set is a valid file', () => {
  const bytes = writeKvmStats('kvm-1', []);
  const layout = readLayout(bufferSource(bytes));
  assert.equal(layout.descriptors.length, 0);
  assert.equal(layout.dataSize, 0);
  assert.equal(bytes.length, 72);
  assert.equal(KvmStatsReader.open(bufferSource(bytes)).readData().length, 0);
});

test('the writer refuses definitions the checker would flag', () => {
  const c = StatType.Cumulative;
  rejects(
    () =>
      new KvmStatsWriter('kvm-1', [
        { name: 'a', type: c },
        { name: 'a', type: c },
      ]),
    'stats[1].name',
    'duplicate',
  );
  rejects(() => new KvmStatsWriter('kvm-1', [{ name: '', type: c }]), 'stats[0].name', 'empty');
  rejects(
    () => new KvmStatsWriter('kvm-1', [{ name: 't', type: c, unit: StatUnit.Seconds, exponent: 3 }]),
    'stats[0].exponent',
    'exponent-sign',
  );
  rejects(
    () => new KvmStatsWriter('kvm-1', [{ name: 'h', type: StatType.LinearHist, size: 4 }]),
    'stats[0].bucket_size',
    'bucket-size-zero',
  );
  rejects(() => new KvmStatsWriter('kvm-1', [{ name: 'h', type: c, size: 2 }]), 'stats[0].size', 'scalar-size');
  rejects(
    () => new KvmStatsWriter('kvm-1', [{ name: 'b', type: StatType.LogHist, unit: StatUnit.Boolean, size: 2 }]),
    'stats[0].flags',
    'boolean-log-hist',
  );
  rejects(() => new KvmStatsWriter('kvm-1', [{ name: 'a', type: 9 as StatType }]), 'stats[0].flags', 'unknown-type');
  rejects(
    () => new KvmStatsWriter('kvm-1', [{ name: 'a', type: c, exponent: 40000 }]),
    'stats[0].exponent',
    'out-of-range',
  );
  rejects(() => new KvmStatsWriter('kvm-1', [{ name: 'a', type: c, size: 70000 }]), 'stats[0].size', 'out-of-range');
  rejects(() => new KvmStatsWriter('kvm-1', [{ name: 'a\0b', type: c }]), 'stats[0].name', 'invalid-char');
  rejects(() => new KvmStatsWriter('kvm-é€', []), 'id', 'invalid-char');
  rejects(
    () => new KvmStatsWriter('kvm-1', [{ name: 'x'.repeat(50), type: c }], { nameSize: 48 }),
    'header.name_size',
    'too-small',
  );
  rejects(() => new KvmStatsWriter('kvm-1', [], { nameSize: 44 }), 'header.name_size', 'unaligned');
});

test('values must be u64; arrays must match the stat size', () => {
  const w = new KvmStatsWriter('kvm-1', [
    { name: 'a', type: StatType.Cumulative },
    { name: 'h', type: StatType.LogHist, size: 2 },
  ]);
  rejects(() => w.set('a', -1n), 'a', 'out-of-range');
  rejects(() => w.set('a', 1n << 64n), 'a', 'out-of-range');
  rejects(() => w.set('a', 2 ** 60), 'a', 'out-of-range');
  w.set('a', 2 ** 52);
  assert.throws(() => w.set('h', [1n]), RangeError);
  assert.throws(() => w.set('h', 1n), RangeError);
  assert.throws(() => w.set('nope', 1n), RangeError);
  assert.throws(() => w.setItem('h', 2, 1n), RangeError);
  w.setItem('h', 1, 7n);
  const r = KvmStatsReader.open(w);
  const v = r.readData();
  assert.equal(r.value(v, 'a'), 2n ** 52n);
  assert.deepEqual(Array.from(r.items(v, 'h')), [0n, 7n]);
});

test('ids other than kvm-* are allowed but draw the selftest warning', () => {
  const r = checkKvmStats(new KvmStatsWriter('hvkit-vmm-1', [{ name: 'calls', type: StatType.Cumulative }]));
  assert.deepEqual(
    r.violations.map((v) => `${v.severity} ${v.field} ${v.rule}`),
    ['warning id id-prefix'],
  );
});
