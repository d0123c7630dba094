import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import {
  bufferSource,
  checkKvmStats,
  describeKvmStats,
  FIRST_CHUNK,
  type KvmStatsLayout,
  KvmStatsReader,
  LIMITS,
  readLayout,
  type StatsSource,
  StatType,
  StatUnit,
} from '../../src/formats/kvm-stats/index.ts';
import { type KvmStatDefinition, KvmStatsWriter, writeKvmStats } from '../support/kvm-stats-writer.ts';
import { REAL_VCPU_STATS, recordingSource, sizelessSource } from './fixtures.ts';

const U64_MAX = (1n << 64n) - 1n;

interface StatCase {
  def: KvmStatDefinition;
  values: bigint[];
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.constantFrom(0n, 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, U64_MAX),
);

function exponentFor(unit: StatUnit): fc.Arbitrary<number> {
  if (unit === StatUnit.Seconds) return fc.integer({ min: -32768, max: 0 });
  if (unit === StatUnit.Boolean) return fc.constant(0);
  return fc.integer({ min: 0, max: 32767 });
}

function statCase(name: string): fc.Arbitrary<StatCase> {
  const scalar = fc
    .record({
      type: fc.constantFrom(StatType.Cumulative, StatType.Instant, StatType.Peak),
      unit: fc.constantFrom(StatUnit.None, StatUnit.Bytes, StatUnit.Seconds, StatUnit.Cycles, StatUnit.Boolean),
      base: fc.constantFrom(0, 1),
    })
    .chain(({ type, unit, base }) =>
      fc.record({
        def: exponentFor(unit).map((exponent): KvmStatDefinition => ({ name, type, unit, base, exponent })),
        values: unit === StatUnit.Boolean ? fc.tuple(fc.constantFrom(0n, 1n)) : fc.tuple(u64),
      }),
    );
  const histogram = fc
    .record({
      log: fc.boolean(),
      unit: fc.constantFrom(StatUnit.None, StatUnit.Bytes, StatUnit.Seconds, StatUnit.Cycles),
      base: fc.constantFrom(0, 1),
      size: fc.integer({ min: 1, max: 40 }),
      bucketSize: fc.integer({ min: 1, max: 0xffffffff }),
    })
    .chain(({ log, unit, base, size, bucketSize }) =>
      fc.record({
        def: exponentFor(unit).map(
          (exponent): KvmStatDefinition => ({
            name,
            type: log ? StatType.LogHist : StatType.LinearHist,
            unit,
            base,
            exponent,
            size,
            bucketSize: log ? 0 : bucketSize,
          }),
        ),
        values: fc.array(u64, { minLength: size, maxLength: size }),
      }),
    );
  const booleanHist = fc.record({
    def: fc.constant<KvmStatDefinition>({
      name,
      type: StatType.LinearHist,
      unit: StatUnit.Boolean,
      size: 2,
      bucketSize: 1,
    }),
    values: fc.array(u64, { minLength: 2, maxLength: 2 }),
  });
  return fc.oneof(scalar, histogram, booleanHist);
}

const statSet = fc
  .uniqueArray(fc.stringMatching(/^[a-z_][a-z0-9_]{0,46}$/), { maxLength: 24 })
  .chain((names) => fc.tuple(...names.map(statCase)));

const fileCase = fc.record({
  id: fc.stringMatching(/^kvm-[0-9]{1,7}(\/vcpu-[0-9]{1,3})?$/),
  stats: statSet,
  nameSize: fc.constantFrom(undefined, 48, 56, 64, 256),
});

function build(c: { id: string; stats: StatCase[]; nameSize: number | undefined }): Uint8Array {
  const w = new KvmStatsWriter(
    c.id,
    c.stats.map((s) => s.def),
    { nameSize: c.nameSize },
  );
  for (const s of c.stats) w.set(s.def.name, s.def.size === undefined ? s.values[0]! : s.values);
  return w.bytes;
}

test('random valid stat sets round-trip writer → reader exactly, and check clean', () => {
  fc.assert(
    fc.property(fileCase, (c) => {
      const bytes = build(c);
      for (const source of [bufferSource(bytes), sizelessSource(bytes)]) {
        const r = KvmStatsReader.open(source);
        assert.equal(r.layout.id, c.id);
        assert.equal(r.layout.header.nameSize, c.nameSize ?? 48);
        assert.equal(r.layout.header.idOffset, 24);
        assert.equal(r.layout.header.descOffset, 24 + r.layout.header.nameSize);
        assert.equal(r.layout.header.dataOffset % 8, 0);
        const values = r.readData();
        let offset = 0;
        c.stats.forEach((s, i) => {
          const d = r.layout.descriptors[i]!;
          assert.equal(d.name, s.def.name);
          assert.equal(d.type, s.def.type);
          assert.equal(d.unit, s.def.unit ?? 0);
          assert.equal(d.base, s.def.base ?? 0);
          assert.equal(d.exponent, s.def.exponent ?? 0);
          assert.equal(d.size, s.def.size ?? 1);
          assert.equal(d.bucketSize, s.def.bucketSize ?? 0);
          assert.equal(d.offset, offset);
          offset += d.size * 8;
          assert.deepEqual(Array.from(r.items(values, d)), s.values);
        });
        assert.deepEqual(r.layout.violations, []);
      }
      const checked = checkKvmStats(bufferSource(bytes));
      assert.deepEqual(checked.violations, []);
      const description = describeKvmStats(
        readLayout(bufferSource(bytes)),
        KvmStatsReader.open(bufferSource(bytes)).readData(),
      );
      assert.doesNotThrow(() => JSON.stringify(description));
    }),
    { numRuns: 300 },
  );
});

/**
 * The hostile-input contract: reading either succeeds or throws a FormatError
 * naming a field and a rule; the checker never throws and agrees with the
 * reader (when the source answers the same every time); no read (hence no
 * allocation) is larger than the input.
 */
function assertHandled(input: Uint8Array | StatsSource, inputLength: number, deterministic = true) {
  const source = recordingSource(input instanceof Uint8Array ? bufferSource(input) : input);
  let layout: KvmStatsLayout | undefined;
  let thrown: FormatError | undefined;
  try {
    layout = readLayout(source);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    assert.ok(e.field.length > 0 && e.rule.length > 0);
    thrown = e;
  }
  if (layout) {
    for (const d of layout.descriptors) assert.ok(d.offset + d.size * 8 <= layout.dataSize);
    assert.ok(layout.dataSize <= LIMITS.maxDataBytes);
    try {
      const values = new KvmStatsReader(source, layout).readData();
      describeKvmStats(layout, values);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
    }
  }
  const checked = checkKvmStats(source);
  for (const v of checked.violations) assert.ok(v.field.length > 0 && v.rule.length > 0 && v.message.length > 0);
  if (thrown && deterministic) {
    assert.ok(
      checked.violations.some((v) => v.field === thrown.field && v.rule === thrown.rule && v.severity === 'error'),
      `checker misses ${thrown.field} ${thrown.rule}`,
    );
  }
  const largest = Math.max(0, ...source.lengths);
  assert.ok(largest <= Math.max(inputLength, 0), `read of ${largest} bytes from a ${inputLength}-byte input`);
  return { layout, thrown };
}

test('truncation at every length is rejected with a FormatError', () => {
  const bytes = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS);
  for (let n = 0; n < bytes.length; n++) {
    const { thrown } = assertHandled(bytes.subarray(0, n), n);
    assert.ok(thrown, `a file cut at ${n} bytes was accepted`);
  }
  assert.equal(assertHandled(bytes, bytes.length).thrown, undefined);
});

test('bit flips never crash the reader or checker', () => {
  fc.assert(
    fc.property(fileCase, fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), (c, flips) => {
      const bytes = build(c).slice();
      for (const f of flips) {
        const bit = f % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
      }
      assertHandled(bytes, bytes.length);
    }),
    { numRuns: 500 },
  );
});

function interestingU32(len: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(0, 1, 7, 8, 16, 23, 24, 47, 48, 64, 72, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffe8, 0xffffffff),
    fc.constantFrom(len - 8, len - 1, len, len + 1, len + 8).filter((x) => x >= 0),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: len + 64 }),
  );
}

test('adversarial headers (sizes and offsets near 2^32, past the end, overlapping)', () => {
  const base = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS.slice(0, 12));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), interestingU32(base.length)), { minLength: 1, maxLength: 6 }),
      (edits) => {
        const bytes = base.slice();
        const view = new DataView(bytes.buffer);
        for (const [field, value] of edits) view.setUint32(field * 4, value >>> 0, true);
        assertHandled(bytes, bytes.length);
        // Without a known size, reads grow only as data proves to exist (first chunk FIRST_CHUNK bytes).
        assertHandled(sizelessSource(bytes), Math.max(bytes.length, FIRST_CHUNK));
      },
    ),
    { numRuns: 600 },
  );
});

test('adversarial descriptors (huge sizes, offsets and buckets, extreme exponents)', () => {
  const base = writeKvmStats('kvm-2023/vcpu-0', REAL_VCPU_STATS.slice(0, 12));
  const descOffset = 72;
  const stride = 64;
  const edit = fc.record({
    index: fc.integer({ min: 0, max: 11 }),
    flags: fc.option(fc.oneof(fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 0xffffffff }))),
    exponent: fc.option(fc.constantFrom(-32768, -9, -1, 0, 1, 64, 65, 32767)),
    size: fc.option(fc.oneof(fc.constantFrom(0, 1, 2, 32, 65, 0xffff), fc.integer({ min: 0, max: 0xffff }))),
    offset: fc.option(interestingU32(1104)),
    bucketSize: fc.option(fc.constantFrom(0, 1, 0xffffffff)),
  });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
      const bytes = base.slice();
      const view = new DataView(bytes.buffer);
      for (const e of edits) {
        const at = descOffset + e.index * stride;
        if (e.flags !== null) view.setUint32(at, e.flags >>> 0, true);
        if (e.exponent !== null) view.setInt16(at + 4, e.exponent, true);
        if (e.size !== null) view.setUint16(at + 6, e.size, true);
        if (e.offset !== null) view.setUint32(at + 8, e.offset >>> 0, true);
        if (e.bucketSize !== null) view.setUint32(at + 12, e.bucketSize >>> 0, true);
      }
      assertHandled(bytes, bytes.length);
    }),
    { numRuns: 600 },
  );
});

test('a large log histogram (65535 buckets) is described without blowing up', () => {
  const bytes = writeKvmStats('kvm-1', [
    {
      name: 'h',
      type: StatType.LogHist,
      unit: StatUnit.Seconds,
      exponent: -9,
      size: 0xffff,
      value: new Array(0xffff).fill(1n),
    },
  ]);
  const { layout } = assertHandled(bytes, bytes.length);
  const row = describeKvmStats(layout!, KvmStatsReader.open(bufferSource(bytes)).readData()).rows[0]!;
  assert.equal(row.histogram?.total, '65535');
  assert.equal(row.histogram?.buckets[0xfffe]?.lower, '2^65533');
  // rank ⌈0.99 × 65535⌉ = 64880 falls in bucket 64879: [2^64878, 2^64879)
  assert.equal(row.histogram?.p99?.upper, '2^64879');
});

test('data and metadata that change between reads (double-fetch source)', () => {
  fc.assert(
    fc.property(fileCase, fileCase, fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), (a, b, pattern) => {
      const fa = build(a);
      const fb = build(b);
      let call = 0;
      // Each read is served from one of two different files, in a random pattern.
      const flapping: StatsSource = {
        size: Math.max(fa.length, fb.length),
        read(buf, position) {
          const from = pattern[call++ % pattern.length] ? fa : fb;
          return bufferSource(from).read(buf, position);
        },
      };
      assertHandled(flapping, Math.max(fa.length, fb.length), false);
    }),
    { numRuns: 300 },
  );
});
