/**
 * Hostile input: the reader and the checker get arbitrary bytes (a region is shared memory that
 * anyone with write access could have scribbled on). They must throw only FormatError naming a
 * field and a rule, never read out of bounds, never allocate from a size they did not check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import { checkDomainDirectory } from '../../src/formats/domstate/checker.ts';
import { directoryModel } from '../../src/formats/domstate/model.ts';
import { DomainDirectoryReader } from '../../src/formats/domstate/reader.ts';
import { bytesRegion, type Region } from '../../src/shm/region.ts';
import { ABI, freshDirectory } from './helpers.ts';

const model = directoryModel(ABI);
const PAGE = 4096;

/** A small valid-looking directory (16 entries, one page), with a few domains. */
function small(): Uint8Array {
  const { region, writer } = freshDirectory();
  writer.publish(1, { state: 'running', uniqueId: 0x1234n, generation: 1, stats: true, nrVcpus: 2 });
  writer.publish(2, { state: 'destroyed', uniqueId: 0x5678n, generation: 4, stats: false, nrVcpus: 1 });
  const bytes = region.bytes.slice(0, PAGE);
  const view = new DataView(bytes.buffer);
  view.setUint32(model.header.nr_entries.offset, 16, true);
  view.setBigUint64(model.header.region_size.offset, BigInt(PAGE), true);
  return bytes;
}

/** Reads everything; returns the FormatError rule or 'ok'. Anything else thrown fails the test. */
function tryRead(region: Region): string {
  try {
    const reader = DomainDirectoryReader.open(region, ABI, { maxRetries: 2 });
    assert.ok(reader.layout.entriesOffs + reader.entries * reader.layout.entryStride <= region.length);
    reader.list();
    reader.changes();
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
  const bytes = small();
  for (let len = 0; len <= bytes.length; len += len < 128 ? 4 : 256) {
    const rule = tryRead(bytesRegion(bytes.subarray(0, len)));
    if (len < model.minHeaderSize) assert.equal(rule, 'region-too-short', `len ${len}`);
    else if (len < PAGE) assert.equal(rule, 'region-size-exceeds-mapping', `len ${len}`);
    else assert.equal(rule, 'ok');
    assert.ok(Array.isArray(checkDomainDirectory(bytesRegion(bytes.subarray(0, len)), ABI).violations));
  }
});

test('header words near 2^32 and 2^64: typed errors, no allocation from them', () => {
  const u32 = fc.constantFrom(0, 1, 7, 8, 16, 32, 64, 4096, 0x7fff_fff8, 0x8000_0000, 0xffff_fff8, 0xffff_ffff);
  const u64 = fc.constantFrom(0n, 4096n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 4096n, 2n ** 64n - 1n);
  const names = ['header_size', 'entries_offs', 'entry_size', 'entry_stride', 'nr_entries', 'page_size'] as const;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...names), u32), { maxLength: 4 }), fc.option(u64), (sets, size) => {
      const bytes = small();
      const view = new DataView(bytes.buffer);
      for (const [name, value] of sets) view.setUint32(model.header[name].offset, value, true);
      if (size !== null) view.setBigUint64(model.header.region_size.offset, size, true);
      const before = process.memoryUsage().arrayBuffers;
      tryRead(bytesRegion(bytes));
      const result = checkDomainDirectory(bytesRegion(bytes), ABI, { maxRetries: 2 });
      for (const v of result.violations) assert.ok(v.field && v.rule);
      assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
    }),
    { numRuns: 400 },
  );
});

test('random bytes anywhere: reader and checker stay typed and in bounds', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: PAGE - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 24 }),
      (flips) => {
        const bytes = small();
        for (const [at, value] of flips) bytes[at] = value;
        const rule = tryRead(bytesRegion(bytes));
        assert.equal(typeof rule, 'string');
        const result = checkDomainDirectory(bytesRegion(bytes), ABI, { maxRetries: 2 });
        for (const v of result.violations) assert.ok(v.field.length > 0 && v.rule.length > 0);
      },
    ),
    { numRuns: 400 },
  );
});

test('the reader never writes to the region', () => {
  const bytes = small();
  const copy = bytes.slice();
  const region = bytesRegion(bytes);
  DomainDirectoryReader.open(region, ABI).list();
  checkDomainDirectory(region, ABI);
  assert.deepEqual(bytes, copy);
});

test('a wrong magic is refused before anything else', () => {
  const bytes = small();
  bytes[0] = bytes[0]! ^ 0xff;
  assert.equal(tryRead(bytesRegion(bytes)), 'magic');
  const rules = checkDomainDirectory(bytesRegion(bytes), ABI).violations.map((v) => v.rule);
  assert.deepEqual(rules, ['magic']);
});
