import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Severity, Violation } from '../../src/errors.ts';
import {
  bufferSource,
  type CheckResult,
  checkKvmStats,
  type StatsSource,
  StatType,
  StatUnit,
} from '../../src/formats/kvm-stats/index.ts';
import { KvmStatsWriter } from '../support/kvm-stats-writer.ts';
import { craft, type RawFile, REAL_VCPU_STATS, sizelessSource } from './fixtures.ts';

function check(input: Uint8Array | StatsSource | RawFile): CheckResult {
  if (input instanceof Uint8Array) return checkKvmStats(bufferSource(input));
  if ('read' in input) return checkKvmStats(input);
  return checkKvmStats(bufferSource(craft(input)));
}

function brief(vs: Violation[]): string[] {
  return vs.map((v) => `${v.severity} ${v.field} ${v.rule}`);
}

/** The input breaks exactly one rule, reported on `field`. */
function expectOnly(
  input: Uint8Array | StatsSource | RawFile,
  field: string,
  rule: string,
  severity: Severity = 'error',
) {
  const r = check(input);
  assert.deepEqual(brief(r.violations), [`${severity} ${field} ${rule}`]);
  assert.ok(r.violations[0]?.message);
}

function patch32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value, true);
  return copy;
}

test('a clean file has no violations', () => {
  const w = new KvmStatsWriter('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  const r = checkKvmStats(w);
  assert.deepEqual(r.violations, []);
  assert.equal(r.errors, 0);
  assert.equal(r.layout?.descriptors.length, 45);
});

describe('header rules', () => {
  test('file shorter than the header', () => expectOnly(craft().subarray(0, 10), 'header', 'truncated'));
  test('header flags are reserved (warning)', () =>
    expectOnly({ flags: 1 }, 'header.flags', 'unknown-flags', 'warning'));
  test('name_size zero', () => expectOnly({ nameSize: 0 }, 'header.name_size', 'zero'));
  test('name_size over the limit', () => expectOnly({ nameSize: 8192 }, 'header.name_size', 'too-large'));
  test('name_size not a multiple of 8 (warning)', () =>
    expectOnly({ nameSize: 44, descOffset: 72, dataOffset: 192 }, 'header.name_size', 'unaligned', 'warning'));
  test('num_desc over the limit', () => {
    expectOnly({ numDesc: 65537 }, 'header.num_desc', 'too-large');
    expectOnly({ numDesc: 0xffffffff }, 'header.num_desc', 'too-large');
  });
  test('descriptor block over the byte limit', () =>
    expectOnly({ nameSize: 4096, numDesc: 65536 }, 'header.num_desc', 'too-large'));
  test('offset inside the header', () => {
    expectOnly({ idOffset: 16, id: '' }, 'header.id_offset', 'inside-header');
    expectOnly({ descOffset: 16, descs: [], numDesc: 1, dataOffset: 200 }, 'header.desc_offset', 'inside-header');
    expectOnly({ dataOffset: 8 }, 'header.data_offset', 'inside-header');
  });
  test('offsets not multiples of 8', () => {
    expectOnly({ descOffset: 76, dataOffset: 144 }, 'header.desc_offset', 'unaligned');
    expectOnly({ dataOffset: 140 }, 'header.data_offset', 'unaligned');
    expectOnly({ idOffset: 28, descOffset: 80 }, 'header.id_offset', 'unaligned');
  });
  test('blocks past the end of the file', () => {
    const bytes = craft();
    expectOnly(patch32(bytes, 12, bytes.length), 'header.id_offset', 'past-end');
    expectOnly(patch32(bytes, 16, bytes.length - 8), 'header.desc_offset', 'past-end');
    expectOnly(patch32(bytes, 12, 0xfffffff8), 'header.id_offset', 'past-end');
  });
  test('blocks truncated on a source of unknown size', () => {
    const bytes = craft();
    expectOnly(sizelessSource(patch32(bytes, 12, bytes.length + 64)), 'id', 'truncated');
    expectOnly(sizelessSource(patch32(bytes, 16, bytes.length + 64)), 'descriptors', 'truncated');
  });
  test('blocks overlapping each other', () => {
    expectOnly({ descOffset: 48 }, 'header.desc_offset', 'blocks-overlap');
    expectOnly({ dataOffset: 72, descOffset: 72 }, 'header.data_offset', 'blocks-overlap');
    expectOnly({ dataOffset: 96, descOffset: 72 }, 'header.data_offset', 'blocks-overlap');
    expectOnly({ idOffset: 80, descOffset: 24, dataOffset: 128 }, 'header.id_offset', 'blocks-overlap');
  });
  test('block order is not assumed: data before descriptors is fine', () => {
    const r = check({ dataOffset: 72, descOffset: 128, data: [1n] });
    assert.deepEqual(r.violations, []);
    assert.equal(r.layout?.header.dataOffset, 72);
  });
});

describe('id rules', () => {
  test('id without NUL inside name_size', () => expectOnly({ id: 'k'.repeat(48) }, 'id', 'not-terminated'));
  test('id not starting with kvm (warning)', () => expectOnly({ id: 'hvkit-1' }, 'id', 'id-prefix', 'warning'));
  test('id with control bytes (warning)', () => expectOnly({ id: 'kvm-\x01' }, 'id', 'not-printable', 'warning'));
});

describe('descriptor rules', () => {
  const one = (d: NonNullable<RawFile['descs']>[number]): RawFile => ({ descs: [d] });
  test('name without NUL', () => expectOnly(one({ name: 'x'.repeat(48) }), 'desc[0].name', 'not-terminated'));
  test('empty name', () => expectOnly(one({ name: '' }), 'desc[0].name', 'empty'));
  test('duplicate name', () =>
    expectOnly({ descs: [{ name: 'exits' }, { name: 'exits' }] }, 'desc[1].name', 'duplicate'));
  test('name with control bytes (warning)', () =>
    expectOnly(one({ name: 'ex\x7fits' }), 'desc[0].name', 'not-printable', 'warning'));
  test('unknown type, unit, base; reserved bits', () => {
    expectOnly(one({ flags: 0x5 }), 'desc[0].flags', 'unknown-type');
    expectOnly(one({ flags: 0x50 }), 'desc[0].flags', 'unknown-unit');
    expectOnly(one({ flags: 0x200 }), 'desc[0].flags', 'unknown-base');
    expectOnly(one({ flags: 0x1000 }), 'desc[0].flags', 'reserved-bits');
    expectOnly(one({ flags: 0x80000000 }), 'desc[0].flags', 'reserved-bits');
  });
  test('exponent sign by unit', () => {
    expectOnly(one({ flags: 0x00, exponent: -1 }), 'desc[0].exponent', 'exponent-sign');
    expectOnly(one({ flags: 0x10, exponent: -3 }), 'desc[0].exponent', 'exponent-sign');
    expectOnly(one({ flags: 0x30, exponent: -1 }), 'desc[0].exponent', 'exponent-sign');
    expectOnly(one({ flags: 0x20, exponent: 1 }), 'desc[0].exponent', 'exponent-sign');
    expectOnly(one({ flags: 0x41, exponent: 1 }), 'desc[0].exponent', 'exponent-sign');
    expectOnly(one({ flags: 0x41, exponent: -1 }), 'desc[0].exponent', 'exponent-sign');
    assert.equal(check(one({ flags: 0x20, exponent: -9 })).violations.length, 0);
    assert.equal(check(one({ flags: 0x110, exponent: 12 })).violations.length, 0);
  });
  test('size zero, and scalar size other than 1', () => {
    expectOnly(one({ size: 0 }), 'desc[0].size', 'zero');
    expectOnly(one({ size: 2 }), 'desc[0].size', 'scalar-size');
    expectOnly(one({ flags: 0x1, size: 3 }), 'desc[0].size', 'scalar-size');
  });
  test('bucket_size non-zero exactly for linear histograms', () => {
    expectOnly(one({ flags: 0x3, size: 4 }), 'desc[0].bucket_size', 'bucket-size-zero');
    expectOnly(one({ flags: 0x0, bucketSize: 5 }), 'desc[0].bucket_size', 'bucket-size-nonzero');
    expectOnly(
      one({ flags: 0x24, exponent: -9, size: 32, bucketSize: 2 }),
      'desc[0].bucket_size',
      'bucket-size-nonzero',
    );
  });
  test('boolean histograms', () => {
    expectOnly(one({ flags: 0x44, size: 2 }), 'desc[0].flags', 'boolean-log-hist');
    expectOnly(one({ flags: 0x43, size: 3, bucketSize: 1 }), 'desc[0].size', 'boolean-hist-size');
    expectOnly(
      one({ flags: 0x43, size: 2, bucketSize: 4 }),
      'desc[0].bucket_size',
      'boolean-hist-bucket-size',
      'warning',
    );
    assert.equal(check(one({ flags: 0x43, size: 2, bucketSize: 1 })).violations.length, 0);
  });
  test('stat items: aligned, within limits and the file', () => {
    expectOnly(one({ offset: 4 }), 'desc[0].offset', 'unaligned');
    expectOnly({ descs: [{ offset: 0xfffffff8 }], data: [0n] }, 'desc[0].offset', 'too-large');
    expectOnly({ descs: [{ offset: 64 }], data: [0n] }, 'desc[0].offset', 'past-end');
  });
  test('stat items overlapping each other', () => {
    expectOnly(
      {
        descs: [
          { name: 'h', flags: 0x3, size: 2, bucketSize: 1, offset: 0 },
          { name: 'b', offset: 8 },
        ],
      },
      'desc[1].offset',
      'stats-overlap',
    );
    expectOnly(
      {
        descs: [
          { name: 'b', offset: 8 },
          { name: 'h', flags: 0x3, size: 4, bucketSize: 1, offset: 0 },
        ],
      },
      'desc[0].offset',
      'stats-overlap',
    );
  });
});

describe('data rules', () => {
  test('boolean values are 0 or 1', () => {
    expectOnly({ descs: [{ name: 'blocking', flags: 0x41 }], data: [2n] }, 'desc[0].value', 'boolean-value');
    assert.equal(check({ descs: [{ name: 'b', flags: 0x43, size: 2, bucketSize: 1 }], data: [7n, 9n] }).errors, 0);
  });

  test('a cumulative, peak or histogram drop between samples is a reset warning; instant may drop', () => {
    const w = new KvmStatsWriter('kvm-1', [
      { name: 'exits', type: StatType.Cumulative },
      { name: 'max', type: StatType.Peak },
      { name: 'now', type: StatType.Instant },
      { name: 'hist', type: StatType.LogHist, unit: StatUnit.Seconds, exponent: -9, size: 4 },
    ]);
    w.set('exits', 10n);
    w.set('max', 10n);
    w.set('now', 10n);
    w.set('hist', [5n, 5n, 5n, 5n]);
    const r = checkKvmStats(w, {
      betweenSamples: () => {
        w.set('exits', 3n);
        w.set('max', 9n);
        w.set('now', 1n);
        w.setItem('hist', 2, 1n);
      },
    });
    assert.deepEqual(brief(r.violations), [
      'warning desc[0].value reset',
      'warning desc[1].value reset',
      'warning desc[3].value[2] reset',
    ]);
    assert.equal(r.errors, 0);
    assert.equal(r.warnings, 3);
  });

  test('increasing counters are not reported', () => {
    const w = new KvmStatsWriter('kvm-1', [{ name: 'exits', type: StatType.Cumulative }]);
    let n = 0n;
    const r = checkKvmStats(w, {
      samples: 4,
      betweenSamples: () => {
        n += 1n << 60n;
        w.set('exits', n);
      },
    });
    assert.deepEqual(r.violations, []);
  });

  test('data block shorter than the descriptors say (source of unknown size)', () => {
    const bytes = craft({ descs: [{ name: 'a' }, { name: 'b' }] });
    expectOnly(sizelessSource(bytes.subarray(0, bytes.length - 8)), 'data', 'truncated');
  });
});

describe('re-read rules', () => {
  function checkWithChange(patch: (view: DataView, bytes: Uint8Array) => void): CheckResult {
    const buf = craft({ descs: [{ name: 'exits' }, { name: 'halt_wait_ns', flags: 0x20, exponent: -9 }] }).slice();
    const src = bufferSource(buf);
    return checkKvmStats(src, { betweenSamples: () => patch(new DataView(buf.buffer), buf) });
  }
  test('header, id and descriptor fields must not change', () => {
    assert.deepEqual(brief(checkWithChange((v) => v.setUint32(0, 1, true)).violations), ['error header.flags changed']);
    assert.deepEqual(brief(checkWithChange((_v, b) => (b[24 + 4] = 0x39)).violations), ['error id changed']);
    assert.deepEqual(brief(checkWithChange((v) => v.setInt16(72 + 64 + 4, -6, true)).violations), [
      'error desc[1].exponent changed',
    ]);
    assert.deepEqual(brief(checkWithChange((_v, b) => (b[72 + 16] = 0x45)).violations), ['error desc[0].name changed']);
  });
  test('data changing between reads is fine', () => {
    const r = checkWithChange((v) => v.setBigUint64(200, 99n, true));
    assert.deepEqual(r.violations, []);
  });
});

test('a non-finite sample count is refused instead of skipping the data checks or never returning', () => {
  for (const samples of [Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => checkKvmStats(bufferSource(craft()), { samples }), RangeError);
  }
  // A boolean holding 7 is still reported when a fractional count rounds down to one sample.
  const r = checkKvmStats(bufferSource(craft({ descs: [{ name: 'b', flags: 0x40 }], data: [7n] })), { samples: 0.5 });
  assert.deepEqual(brief(r.violations), ['error desc[0].value boolean-value']);
});
