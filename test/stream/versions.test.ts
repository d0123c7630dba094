/**
 * Every version pair of the stream ABI: round trip of the newest, old writer → new reader
 * (upgraded in memory), new writer → old reader refused naming both versions, unknown versions
 * refused; unknown mandatory records refused, unknown optional records skipped, retired ones
 * refused; and a property test of the round trip over random images.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  crc32,
  encodeStream,
  frozenStreamRevisions,
  insertRecordBeforeEnd,
  MemoryImage,
  newestStreamVersion,
  verifyStream,
} from '../../src/formats/stream/index.ts';
import { pagesOf, sampleImage, simVcpu } from './image-fixtures.ts';

test('two revisions are frozen and the writer writes the newest', () => {
  assert.deepEqual(frozenStreamRevisions(), [1, 2]);
  assert.equal(newestStreamVersion(), 2);
  const bytes = encodeStream(sampleImage());
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true), 2);
});

for (const [writer, reader] of [
  [2, 2],
  [1, 2],
  [1, 1],
] as const) {
  test(`writer version ${writer} → reader version ${reader}: same image`, () => {
    const image = sampleImage();
    const read = verifyStream(encodeStream(image, { version: writer }), { readerRevision: reader });
    assert.equal(read.version, writer);
    assert.equal(read.upgradedFrom, writer < reader ? writer : undefined);
    assert.deepEqual(read.domain, image.domain);
    assert.deepEqual(read.vcpus, image.vcpus);
    assert.deepEqual(read.options, image.options);
    assert.deepEqual(pagesOf(read.memory), pagesOf(image.memory));
    assert.deepEqual(read.stats, image.stats);
  });
}

test('writer version 2 → reader version 1: refused, naming both versions', () => {
  assert.throws(
    () => verifyStream(encodeStream(sampleImage()), { readerRevision: 1 }),
    (e: Error) =>
      /stream version 2 cannot be read/.test(e.message) &&
      /reader is version 1/.test(e.message) &&
      /unsupported-version/.test(e.message),
  );
});

function withVersion(bytes: Uint8Array, version: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  const view = new DataView(copy.buffer);
  view.setUint32(12, version, true);
  view.setUint32(20, 0, true);
  view.setUint32(20, crc32(copy.subarray(0, 32)), true);
  return copy;
}

test('versions other than the newest and the previous are refused, naming the found and the supported ones', () => {
  const bytes = encodeStream(sampleImage());
  for (const v of [0, 3, 0xffff_ffff]) {
    assert.throws(
      () => verifyStream(withVersion(bytes, v)),
      (e: Error) => e.message.includes(`stream version ${v} cannot be read`) && e.message.includes('versions 2 and 1'),
    );
  }
});

test('an unknown optional record is skipped; an unknown mandatory one is refused', () => {
  const bytes = encodeStream(sampleImage());
  const optional = insertRecordBeforeEnd(bytes, 0x8000_0777, new Uint8Array([9, 9, 9]));
  const read = verifyStream(optional);
  assert.deepEqual(read.skipped, [{ type: 0x8000_0777, count: 1 }]);
  assert.throws(
    () => verifyStream(insertRecordBeforeEnd(bytes, 0x777, new Uint8Array(8))),
    /unknown-mandatory: mandatory record type 1911 is unknown to stream version 2/,
  );
});

test('a revision-1 memory record in a version-2 stream is refused (retired type)', () => {
  const bytes = encodeStream(sampleImage());
  assert.throws(
    () => verifyStream(insertRecordBeforeEnd(bytes, 3, new Uint8Array(16))),
    /record type 3 \(memory\) is retired in stream version 2/,
  );
  // And a version-2 memory_pages record is unknown to a version-1 stream.
  const v1 = encodeStream(sampleImage(), { version: 1 });
  assert.throws(
    () => verifyStream(insertRecordBeforeEnd(v1, 4, new Uint8Array(48), 1)),
    /mandatory record type 4 is unknown to stream version 1/,
  );
});

test('a full chunk and a partial last chunk survive both encodings', () => {
  const image = sampleImage({ memoryMiB: 3, full: true });
  for (const version of [1, 2]) {
    assert.deepEqual(pagesOf(verifyStream(encodeStream(image, { version })).memory), pagesOf(image.memory));
  }
});

test('property: random images round-trip through both versions', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 767 }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 255 }),
      fc.constantFrom(1, 2),
      fc.boolean(),
      (memoryMiB, vcpus, pages, fill, version, paused) => {
        const memory = new MemoryImage(memoryMiB << 20);
        for (const p of pages) if (p * 4096 < memory.size) memory.setPage(p, new Uint8Array(4096).fill(fill));
        const image = {
          options: { migration: !paused, paused },
          domain: { name: 'p', vcpus, memoryMiB, workload: 'compute', program: 'spin', rounds: 3, cpu: 'sim' as const },
          vcpus: Array.from({ length: vcpus }, (_, i) => simVcpu(i, i + fill)),
          memory,
        };
        const read = verifyStream(encodeStream(image, { version }));
        assert.deepEqual(read.vcpus, image.vcpus);
        assert.deepEqual(read.domain, image.domain);
        assert.deepEqual(read.options, image.options);
        assert.deepEqual(pagesOf(read.memory), pagesOf(memory));
      },
    ),
    { numRuns: 30 },
  );
});
