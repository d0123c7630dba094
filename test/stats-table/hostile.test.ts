import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { checkStatsTable } from '../../src/formats/stats-table/checker.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { bytesRegion, createSharedRegion, type Region } from '../../src/shm/region.ts';
import { craft } from './helpers.ts';

const REV = frozenStatsTableRevisions();

/** Opens and reads; returns the FormatError rule, or 'ok'. Anything else thrown fails the test. */
function tryRead(region: Region, rev: number): string {
  try {
    const reader = StatsTableReader.open(region, statsTableRevision(rev), { maxRetries: 2 });
    // Nothing is sized from the header beyond what the region holds.
    assert.ok(reader.extent <= region.length);
    assert.ok(reader.layout.nrVcpus * reader.layout.vcpuStride <= region.length);
    const table = reader.read();
    assert.equal(table.vcpus.length, reader.layout.nrVcpus);
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError) {
      assert.ok(e.field.length > 0 && e.rule.length > 0);
      return e.rule;
    }
    throw e;
  }
}

test('truncated regions: typed errors, never a crash', () => {
  for (const prod of REV) truncate(prod);
});

function truncate(prod: number) {
  const c = craft(prod, { nrVcpus: 4, arch: 'x86_64' });
  for (let len = 0; len <= c.bytes.length; len += len < 256 ? 4 : 256) {
    for (const rev of REV) {
      const rule = tryRead(bytesRegion(c.bytes.subarray(0, len)), rev);
      if (len < c.model.headerSize) assert.equal(rule, 'region-too-short', `len ${len}`);
      else if (len < c.layout.regionSize) assert.equal(rule, 'region-size-exceeds-mapping', `len ${len}`);
      else assert.equal(rule, 'ok');
      assert.ok(
        Array.isArray(checkStatsTable(bytesRegion(c.bytes.subarray(0, len)), statsTableRevision(rev)).violations),
      );
    }
  }
}

test('header words near 2^32 and 2^64: typed errors, no allocation from them', () => {
  const u32 = fc.constantFrom(0, 1, 7, 8, 64, 4096, 0x7fff_fff8, 0x8000_0000, 0xffff_fff8, 0xffff_ffff);
  const u64 = fc.constantFrom(0n, 4096n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 4096n, 2n ** 64n - 1n);
  const names = [
    'dom_size',
    'vcpu_offs',
    'vcpu_size',
    'vcpu_stride',
    'nr_vcpus',
    'page_size',
    'arch_vcpu_offs',
    'arch_vcpu_size',
    'arch_dom_offs',
    'arch_dom_size',
  ] as const;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...names), u32), { maxLength: 4 }),
      fc.option(u64),
      fc.constantFrom(...REV),
      fc.constantFrom(...REV),
      (sets, region, rev, prod) => {
        const c = craft(prod, { nrVcpus: 2, arch: 'x86_64' });
        for (const [name, value] of sets) c.setHeader(name, value);
        if (region !== null) c.setHeader('region_size', region);
        const before = process.memoryUsage().arrayBuffers;
        tryRead(c.region(), rev);
        checkStatsTable(c.region(), statsTableRevision(rev));
        // Nothing larger than a few copies of the (8 KiB) input was allocated.
        assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
      },
    ),
    { numRuns: 400 },
  );
  const c = craft(2);
  c.setHeader('nr_vcpus', 0xffff_ffff);
  assert.equal(tryRead(c.region(), 2), 'vcpus-exceed-region');
  c.setHeader('nr_vcpus', 2);
  c.setHeader('region_size', 2n ** 64n - 4096n);
  assert.equal(tryRead(c.region(), 2), 'region-size-exceeds-mapping');
});

test('overlapping blocks and stride < size are refused by the reader', () => {
  const c = craft(2);
  c.setHeader('vcpu_offs', 64); // the vCPU array would overlap the domain block
  assert.equal(tryRead(c.region(), 2), 'vcpu-offs-below-dom-size');
  const d = craft(2);
  d.setHeader('vcpu_stride', 64); // vCPU blocks would overlap each other
  assert.equal(tryRead(d.region(), 2), 'vcpu-stride-below-size');
  const e = craft(2);
  e.setHeader('arch_vcpu_offs', 8); // arch block over the common fields
  assert.equal(tryRead(e.region(), 2), 'arch-block-bounds');
});

test('random bit flips: the reader and checker either read or fail with a typed error', () => {
  const bases = REV.map((prod) => craft(prod, { nrVcpus: 3, arch: 'x86_64' }));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(8 * 8192 - 1), fc.boolean()), { minLength: 1, maxLength: 8 }),
      fc.constantFrom(...REV),
      fc.nat(REV.length - 1),
      (flips, rev, prodIndex) => {
        const base = bases[prodIndex]!;
        const bytes = base.bytes.slice();
        for (const [bit, headerOnly] of flips) {
          // Half of the flips target the header, where they matter most.
          const at = headerOnly ? bit % (base.model.headerSize * 8) : bit % (bytes.length * 8);
          bytes[at >> 3]! ^= 1 << (at & 7);
        }
        tryRead(bytesRegion(bytes), rev);
        const r = checkStatsTable(bytesRegion(bytes), statsTableRevision(rev), { maxRetries: 2 });
        for (const v of r.violations) assert.ok(v.field && v.rule && v.message);
      },
    ),
    { numRuns: 500 },
  );
});

test('a header changed after open is detected at the next snapshot', () => {
  const abi = statsTableRevision(2);
  const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: 1 });
  const reader = StatsTableReader.open(region, abi);
  reader.snapshot();
  new DataView(region.bytes.buffer).setUint32(24, 2, true); // nr_vcpus
  assert.throws(
    () => reader.snapshot(),
    (e: unknown) => e instanceof FormatError && e.rule === 'layout-changed',
  );
  region.close();
});

test('an ABI without the table’s structure is refused with a typed error', () => {
  const abi = structuredClone(statsTableRevision(1));
  abi.structs = abi.structs.filter((s) => s.name !== 'vcpu');
  assert.throws(
    () => StatsTableReader.open(craft(1).region(), abi),
    (e: unknown) => e instanceof FormatError && e.rule === 'missing-struct',
  );
});
