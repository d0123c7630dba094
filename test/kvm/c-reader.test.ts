/**
 * The independent C reader (test/c/kvm_stats_reader.c) on files written by hvkit's KVM stats
 * writer — no /dev/kvm needed — including malformed files, which it must refuse cleanly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bufferSource, KvmStatsReader, StatType, StatUnit } from '../../src/formats/kvm-stats/index.ts';
import { writeKvmStats } from '../support/kvm-stats-writer.ts';
import { compileCReader, parseCReaderOutput, runCReader } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-c-reader-'));
const reader = compileCReader();
after(() => {
  reader.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const U64_MAX = (1n << 64n) - 1n;
const sample = writeKvmStats('kvm-42/vcpu-7', [
  { name: 'exits', type: StatType.Cumulative, value: 123n },
  { name: 'big', type: StatType.Peak, value: U64_MAX },
  { name: 'flag', type: StatType.Instant, unit: StatUnit.Boolean, value: 1n },
  { name: 'lat_hist', type: StatType.LogHist, unit: StatUnit.Seconds, exponent: -9, size: 4, value: [1n, 2n, 3n, 4n] },
]);

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function run(args: string[], stdio?: Array<'ignore' | 'pipe' | number>) {
  return spawnSync(reader.path, args, { encoding: 'utf8', ...(stdio ? { stdio } : {}) });
}

test('prints header, id, descriptors and every u64 item exactly like the TS reader', () => {
  const out = runCReader(reader, { path: file('sample.kvmstats', sample) });
  const ts = KvmStatsReader.open(bufferSource(sample));
  const values = ts.readData();
  assert.equal(out.id, 'kvm-42/vcpu-7');
  assert.equal(out.header.num_desc, '4');
  assert.equal(out.header.data_offset, String(ts.layout.header.dataOffset));
  assert.deepEqual(
    out.descriptors.map((d) => [d.name, d.size, d.exponent]),
    [
      ['exits', '1', '0'],
      ['big', '1', '0'],
      ['flag', '1', '0'],
      ['lat_hist', '4', '-9'],
    ],
  );
  assert.deepEqual(
    [...out.values],
    [
      ['exits', 123n],
      ['big', U64_MAX],
      ['flag', 1n],
      ['lat_hist[0]', 1n],
      ['lat_hist[1]', 2n],
      ['lat_hist[2]', 3n],
      ['lat_hist[3]', 4n],
    ],
  );
  assert.equal(out.values.get('exits'), ts.value(values, 'exits'));
});

test('reads the stats fd inherited as fd 3 when given no path', () => {
  const fd = openSync(file('fd3.kvmstats', sample), 'r');
  try {
    const out = runCReader(reader, { fd });
    assert.equal(out.values.get('big'), U64_MAX);
  } finally {
    closeSync(fd);
  }
});

test('refuses malformed files with exit status 1 and a message, never a crash', () => {
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cases: Array<[string, Uint8Array, RegExp]> = [];
  cases.push(['empty', new Uint8Array(0), /truncated header/]);
  cases.push(['short header', sample.slice(0, 10), /truncated header/]);
  cases.push(['truncated data', sample.slice(0, sample.length - 8), /cannot read data block/]);
  const zeroName = sample.slice();
  view(zeroName).setUint32(4, 0, true);
  cases.push(['name_size 0', zeroName, /bad name_size/]);
  const manyDescs = sample.slice();
  view(manyDescs).setUint32(8, 0xffffffff, true);
  cases.push(['num_desc 2^32-1', manyDescs, /too many descriptors/]);
  const noNul = sample.slice();
  const { idOffset, nameSize } = KvmStatsReader.open(bufferSource(sample)).layout.header;
  noNul.fill(0x41, idOffset, idOffset + nameSize);
  cases.push(['id without NUL', noNul, /id is not NUL-terminated/]);
  const farDesc = sample.slice();
  view(farDesc).setUint32(16, 0xfffffff0, true);
  cases.push(['desc_offset past the end', farDesc, /cannot read descriptors/]);
  cases.forEach(([name, bytes, message], i) => {
    const r = run([file(`bad-${i}.kvmstats`, bytes)]);
    assert.equal(r.status, 1, `${name}: status ${r.status} ${r.stderr}`);
    assert.match(r.stderr, message, name);
    assert.equal(r.stdout, '', name);
  });
});

test('usage and I/O problems exit 2', () => {
  assert.equal(run(['--bench']).status, 2);
  assert.equal(run(['--bench', '0']).status, 2);
  assert.equal(run(['--nope']).status, 2);
  assert.equal(run([join(dir, 'missing.kvmstats')]).status, 2);
  // no path and nothing on fd 3
  assert.equal(run([], ['ignore', 'pipe', 'pipe']).status, 2);
});

test('--bench reads and decodes the data block N times and reports ns per iteration', () => {
  const r = run(['--bench', '1000', file('bench.kvmstats', sample)]);
  assert.equal(r.status, 0, r.stderr);
  const m = /^iterations=1000 ns_per_iter=(\d+(?:\.\d+)?) data_bytes=(\d+) sink=\d+$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(Number(m[2]), KvmStatsReader.open(bufferSource(sample)).layout.dataSize);
  // the parser in helpers ignores nothing it should not: bench output is not name=value
  assert.equal(parseCReaderOutput('#id x\na=1\n').values.get('a'), 1n);
});
