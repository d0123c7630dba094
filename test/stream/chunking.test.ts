/**
 * The stream reader gives the same result however the bytes are cut into chunks: any valid
 * stream pushed in pieces cut at arbitrary offsets — empty pieces included, and cuts exactly at
 * record ends, where an empty record body ends with its chunk — parses to what the whole stream
 * in one chunk gives; a broken stream is refused with the same error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import {
  encodeStream,
  insertRecordBeforeEnd,
  StreamReader,
  type VerifiedImage,
  verifyStream,
} from '../../src/formats/stream/index.ts';
import { pagesOf, sampleImage } from './image-fixtures.ts';

const EMPTY_OPTIONAL = 0x8000_0123;

/** Offsets where each record ends (and the image header), from the stream's own length fields. */
function recordEnds(stream: Uint8Array): number[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const ends = [32];
  for (let at = 32; at + 16 <= stream.length; ) {
    const length = view.getUint32(at + 4, true);
    at += 16 + length + ((8 - (length % 8)) % 8);
    ends.push(at);
  }
  return ends;
}

/** `stream` cut at `cuts` (sorted, duplicates give empty chunks), `empties` empty chunks in front. */
function chunksOf(stream: Uint8Array, cuts: number[], empties: number): Uint8Array[] {
  const chunks: Uint8Array[] = Array.from({ length: empties }, () => new Uint8Array(0));
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    chunks.push(stream.subarray(from, cut));
    from = cut;
  }
  chunks.push(stream.subarray(from));
  return chunks;
}

function readChunked(chunks: Uint8Array[]): VerifiedImage {
  const reader = new StreamReader();
  for (const c of chunks) reader.push(c);
  return reader.finish();
}

/** What a verified image says, in comparable form. */
function summary(image: VerifiedImage) {
  return {
    version: image.version,
    upgradedFrom: image.upgradedFrom,
    options: image.options,
    domain: image.domain,
    vcpus: image.vcpus,
    memory: pagesOf(image.memory),
    pools: image.pools && { version: image.pools.version, data: [...image.pools.data] },
    stats: image.stats && { version: image.stats.version, data: [...image.stats.data] },
    skipped: image.skipped,
  };
}

function outcome(read: () => VerifiedImage): unknown {
  try {
    return summary(read());
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    return { field: err.field, rule: err.rule, value: err.value };
  }
}

const streamArb = fc
  .record({
    version: fc.constantFrom(1, 2),
    memoryMiB: fc.integer({ min: 1, max: 2 }),
    vcpus: fc.integer({ min: 1, max: 3 }),
    full: fc.boolean(),
    pools: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    emptyRecords: fc.integer({ min: 0, max: 3 }),
  })
  .map((o) => {
    const image = sampleImage({ memoryMiB: o.memoryMiB, vcpus: o.vcpus, full: o.full });
    if (o.pools && o.version === 2) image.pools = { version: 1, data: o.pools };
    let stream = encodeStream(image, { version: o.version });
    for (let i = 0; i < o.emptyRecords; i++) {
      stream = insertRecordBeforeEnd(stream, EMPTY_OPTIONAL, new Uint8Array(0), o.version);
    }
    return stream;
  });

/** Cut points: arbitrary offsets, record ends, and repeats (empty chunks in the middle). */
const cutsArb = (stream: Uint8Array) => {
  const ends = recordEnds(stream);
  return fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: stream.length }),
      fc.constantFrom(...ends),
      fc.constantFrom(...ends).map((e) => Math.max(0, e - 16)),
    ),
    { maxLength: 40 },
  );
};

test('property: a valid stream cut into chunks anywhere parses to what one chunk gives', () => {
  fc.assert(
    fc.property(
      streamArb.chain((stream) => fc.tuple(fc.constant(stream), cutsArb(stream), fc.integer({ min: 0, max: 2 }))),
      ([stream, cuts, empties]) => {
        const whole = summary(verifyStream(stream));
        assert.deepEqual(summary(readChunked(chunksOf(stream, cuts, empties))), whole);
      },
    ),
    { numRuns: 100 },
  );
});

test('property: a broken stream is refused with the same error however it is chunked', () => {
  fc.assert(
    fc.property(
      streamArb.chain((stream) =>
        fc.tuple(
          fc.constant(stream),
          fc.integer({ min: 0, max: stream.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          fc.integer({ min: 0, max: stream.length }),
          cutsArb(stream),
        ),
      ),
      ([stream, at, xor, keep, cuts]) => {
        const broken = new Uint8Array(stream.subarray(0, keep));
        if (at < keep) broken[at]! ^= xor;
        const whole = outcome(() => verifyStream(broken));
        const chunked = outcome(() =>
          readChunked(
            chunksOf(
              broken,
              cuts.filter((c) => c <= keep),
              1,
            ),
          ),
        );
        assert.deepEqual(chunked, whole);
      },
    ),
    { numRuns: 100 },
  );
});

test('an empty record body that ends exactly where a chunk ends (and the next chunk is END)', () => {
  const stream = insertRecordBeforeEnd(encodeStream(sampleImage()), EMPTY_OPTIONAL, new Uint8Array(0));
  const endRecord = stream.length - 24; // END: a 16-byte header and an 8-byte body
  const read = readChunked([stream.subarray(0, endRecord), stream.subarray(endRecord)]);
  assert.deepEqual(read.skipped, [{ type: EMPTY_OPTIONAL, count: 1 }]);
  assert.deepEqual(summary(read), summary(verifyStream(stream)));
});

test('a stream pushed one byte at a time parses like one chunk', () => {
  const stream = insertRecordBeforeEnd(encodeStream(sampleImage({ memoryMiB: 1 })), EMPTY_OPTIONAL, new Uint8Array(0));
  const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
  assert.deepEqual(summary(readChunked(bytes)), summary(verifyStream(stream)));
});

test('an empty pool snapshot round-trips (the CRC of an empty view is the running value)', () => {
  const image = sampleImage({ memoryMiB: 1, vcpus: 1 });
  image.pools = { version: 1, data: new Uint8Array(0).subarray(0, 8) };
  const read = verifyStream(encodeStream(image));
  assert.deepEqual(read.pools && [...read.pools.data], []);
});
