import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import {
  bigintReplacer,
  bufferSource,
  checkKvmStats,
  describeKvmStats,
  fdSource,
  KvmStatsReader,
  readLayout,
  StatType,
  StatUnit,
} from '../../src/formats/kvm-stats/index.ts';
import { KvmStatsWriter, writeKvmStats } from '../support/kvm-stats-writer.ts';
import { craft, REAL_VCPU_STATS, recordingSource, sizelessSource } from './fixtures.ts';

test('writer reproduces the real vCPU layout of the kernel', () => {
  const bytes = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  const layout = readLayout(bufferSource(bytes));
  assert.deepEqual(layout.header, {
    flags: 0,
    nameSize: 48,
    numDesc: 45,
    idOffset: 24,
    descOffset: 72,
    dataOffset: 2952,
  });
  assert.equal(layout.id, 'kvm-2023/vcpu-0');
  assert.equal(layout.dataSize, 1104);
  assert.equal(bytes.length, 2952 + 1104);
  const d = (name: string) => layout.byName.get(name)!;
  assert.deepEqual(
    [d('halt_poll_success_ns').flags, d('halt_poll_success_ns').exponent, d('halt_poll_success_ns').size],
    [0x20, -9, 1],
  );
  assert.deepEqual(
    [d('halt_poll_success_hist').flags, d('halt_poll_success_hist').exponent, d('halt_poll_success_hist').size],
    [0x24, -9, 32],
  );
  assert.equal(d('halt_poll_success_hist').offset, 56);
  assert.equal(d('halt_wait_hist').offset, 568);
  assert.equal(d('blocking').flags, 0x41);
  assert.equal(d('blocking').offset, 824);
  assert.deepEqual([d('exits').flags, d('exits').size, d('exits').offset], [0, 1, 904]);
  assert.equal(d('notify_window_exits').offset, 1096);
  assert.deepEqual(layout.violations, []);
});

test('writer output equals independently crafted kernel bytes', () => {
  const defs = [
    { name: 'exits', type: StatType.Cumulative, value: 7n },
    { name: 'blocking', type: StatType.Instant, unit: StatUnit.Boolean, value: 1n },
  ];
  const written = writeKvmStats('kvm-1/vcpu-0', defs);
  const crafted = craft({
    id: 'kvm-1/vcpu-0',
    descs: [
      { name: 'exits', flags: 0 },
      { name: 'blocking', flags: 0x41 },
    ],
    data: [7n, 1n],
  });
  assert.deepEqual(written, crafted);
});

test('reader decodes u64 values exactly and looks stats up by name', () => {
  const big = (1n << 64n) - 1n;
  const w = new KvmStatsWriter('kvm-9', [
    { name: 'a', type: StatType.Cumulative },
    { name: 'h', type: StatType.LinearHist, size: 3, bucketSize: 10 },
  ]);
  w.set('a', big);
  w.set('h', [1n, (1n << 53n) + 1n, 3n]);
  const r = KvmStatsReader.open(w);
  const values = r.readData();
  assert.equal(r.value(values, 'a'), big);
  assert.deepEqual(Array.from(r.items(values, 'h')), [1n, (1n << 53n) + 1n, 3n]);
  assert.equal(r.stat('h')?.bucketSize, 10);
  assert.equal(r.stat('missing'), undefined);
  assert.throws(() => r.value(values, 'missing'), RangeError);
  assert.deepEqual(r.toRecord(values), { a: big, h: [1n, (1n << 53n) + 1n, 3n] });
});

test('readData reuses its buffer; sample() and readData(into) give owned copies', () => {
  const w = new KvmStatsWriter('kvm-9', [{ name: 'a', type: StatType.Cumulative }]);
  const r = KvmStatsReader.open(w);
  w.set('a', 1n);
  const shared = r.readData();
  const s1 = r.sample();
  const into = new BigUint64Array(r.dataWords);
  r.readData(into);
  w.set('a', 2n);
  assert.equal(r.readData(), shared, 'the same array is returned every time');
  assert.equal(shared[0], 2n);
  assert.equal(s1.values[0], 1n);
  assert.equal(into[0], 1n);
  assert.equal(typeof s1.at, 'bigint');
});

test('after the first read, a sample preads only the data block', () => {
  const bytes = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  const reads: [number, number][] = [];
  const inner = bufferSource(bytes);
  const source = {
    size: inner.size,
    read(buf: Uint8Array, position: number) {
      reads.push([position, buf.length]);
      return inner.read(buf, position);
    },
  };
  const r = KvmStatsReader.open(source);
  reads.length = 0;
  r.readData();
  r.readData();
  assert.deepEqual(reads, [
    [2952, 1104],
    [2952, 1104],
  ]);
});

test('reader handles descriptors out of offset order, as the kernel VM file has them', () => {
  const bytes = craft({
    id: 'kvm-5973',
    descs: [
      { name: 'pages_4k', flags: 1, offset: 0 },
      { name: 'max_mmu_rmap_size', flags: 2, offset: 16 },
      { name: 'max_mmu_page_hash_collisions', flags: 2, offset: 8 },
    ],
    data: [4n, 5n, 6n],
  });
  const r = KvmStatsReader.open(bufferSource(bytes));
  const v = r.readData();
  assert.equal(r.value(v, 'max_mmu_rmap_size'), 6n);
  assert.equal(r.value(v, 'max_mmu_page_hash_collisions'), 5n);
  assert.equal(checkKvmStats(bufferSource(bytes)).errors, 0);
});

test('fd adapter reads a captured file through pread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-kvm-stats-'));
  try {
    const path = join(dir, 'vcpu.stats');
    const w = new KvmStatsWriter('kvm-2023/vcpu-0', REAL_VCPU_STATS);
    w.set('exits', 123456789012345678n);
    writeFileSync(path, w.bytes);
    const fd = openSync(path, 'r');
    try {
      const source = fdSource(fd);
      assert.equal(source.size, w.bytes.length);
      const r = KvmStatsReader.open(source);
      assert.equal(r.value(r.readData(), 'exits'), 123456789012345678n);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sizeless source (live fd) reads the same and reports a short data block', () => {
  const bytes = writeKvmStats('kvm-1', [{ name: 'a', type: StatType.Cumulative, value: 5n }]);
  const r = KvmStatsReader.open(sizelessSource(bytes));
  assert.equal(r.value(r.readData(), 'a'), 5n);
  // Same layout, but the data disappears: a truncated read is a FormatError.
  const gone = new KvmStatsReader(sizelessSource(bytes.subarray(0, bytes.length - 4)), r.layout);
  assert.throws(
    () => gone.readData(),
    (e) => e instanceof FormatError && e.field === 'data' && e.rule === 'truncated',
  );
});

test('strict mode rejects non-fatal errors that the default mode tolerates', () => {
  const bytes = craft({ descs: [{ name: 'future', flags: 0x5 }] });
  assert.equal(readLayout(bufferSource(bytes)).violations[0]?.rule, 'unknown-type');
  assert.throws(
    () => readLayout(bufferSource(bytes), { strict: true }),
    (e) => e instanceof FormatError && e.field === 'desc[0].flags' && e.rule === 'unknown-type',
  );
});

test('reader allocations are bounded by the input for the real layout', () => {
  const bytes = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  const src = recordingSource(bufferSource(bytes));
  KvmStatsReader.open(src).readData();
  assert.ok(Math.max(...src.lengths) <= bytes.length);
});

test('describe renders scaled values and histogram percentiles as JSON-safe data', () => {
  const w = new KvmStatsWriter('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  w.set('halt_poll_success_ns', 1_500_000n);
  w.set('blocking', 1n);
  w.set('exits', (1n << 60n) + 3n);
  const hist = new Array<bigint>(32).fill(0n);
  hist[10] = 90n; // [512, 1024) ns
  hist[20] = 10n; // [524288, 1048576) ns
  w.set('halt_poll_success_hist', hist);
  const r = KvmStatsReader.open(w);
  const desc = describeKvmStats(r.layout, r.readData());
  const row = (n: string) => desc.rows.find((x) => x.name === n)!;
  assert.equal(row('halt_poll_success_ns').value, '1.5 ms');
  assert.equal(row('blocking').value, 'true');
  assert.equal(row('exits').value, ((1n << 60n) + 3n).toString());
  const h = row('halt_poll_success_hist').histogram!;
  assert.equal(h.kind, 'log2');
  assert.equal(h.total, '100');
  assert.equal(h.p50?.text, '[512 ns, 1.024 µs)');
  assert.equal(h.p90?.lower, '512');
  assert.equal(h.p99?.text, '[524.288 µs, 1.049 ms)');
  assert.equal(h.buckets[31]?.upper, null);
  const json = JSON.parse(JSON.stringify(desc, bigintReplacer));
  assert.deepEqual(json, desc);
});
