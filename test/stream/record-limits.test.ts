/**
 * A stream's work is bounded by the guest it describes: a flood of tiny records (unknown optional
 * ones, or empty POOLS pieces) is refused after a bounded number of records, and the skipped
 * optional records are kept as one count per type. Work is measured in records and bytes the
 * reader took before refusing, never in time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import {
  encodeStream,
  insertRecordBeforeEnd,
  RECORD,
  StreamReader,
  verifyStream,
} from '../../src/formats/stream/index.ts';
import { MAX_OPTIONAL_BYTES, MAX_OPTIONAL_RECORDS, type ReadOptions } from '../../src/formats/stream/reader.ts';
import { sampleImage } from './image-fixtures.ts';

const EMPTY_OPTIONAL = 0x8000_0123;
const END_BYTES = 24;

/** The bytes of every record of a stream, with its type (walked by the length fields). */
function recordsOf(stream: Uint8Array): Array<{ type: number; bytes: Uint8Array }> {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const out: Array<{ type: number; bytes: Uint8Array }> = [];
  for (let at = 32; at + 16 <= stream.length; ) {
    const length = view.getUint32(at + 4, true);
    const next = at + 16 + length + ((8 - (length % 8)) % 8);
    out.push({ type: view.getUint32(at, true), bytes: stream.subarray(at, next) });
    at = next;
  }
  return out;
}

/** One whole record of `type` with `body`, as a writer makes it. */
function oneRecord(type: number, body: Uint8Array): Uint8Array {
  const base = encodeStream(sampleImage({ memoryMiB: 1, vcpus: 1 }));
  const withIt = insertRecordBeforeEnd(base, type, body);
  return withIt.subarray(base.length - END_BYTES, withIt.length - END_BYTES);
}

/** `count` copies of `record` back to back. */
function repeated(record: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(record.length * count);
  for (let i = 0; i < count; i++) out.set(record, i * record.length);
  return out;
}

/** The stream of `sampleImage()` without its END record: what the flood is appended to. */
function streamHead(): Uint8Array {
  const stream = encodeStream(sampleImage());
  return stream.subarray(0, stream.length - END_BYTES);
}

/**
 * Pushes the head, then up to `blocks` blocks of `block`; returns the refusal and how many
 * blocks were pushed until it came.
 */
function flood(
  block: Uint8Array,
  blocks: number,
  options: ReadOptions = {},
): { error: FormatError; pushed: number; offset: number } {
  const reader = new StreamReader(options);
  reader.push(streamHead());
  for (let pushed = 1; pushed <= blocks; pushed++) {
    try {
      reader.push(block);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      return { error: err, pushed, offset: reader.offset };
    }
  }
  assert.fail(`${blocks} blocks were accepted`);
}

test('a million empty optional records are refused after bounded work, naming the rule and count', () => {
  const record = oneRecord(EMPTY_OPTIONAL, new Uint8Array(0));
  assert.equal(record.length, 16);
  const perBlock = 4096;
  const { error, pushed, offset } = flood(repeated(record, perBlock), 1_000_000 / perBlock);
  assert.equal(error.field, 'records');
  assert.equal(error.rule, 'too-many-optional-records');
  assert.equal(error.value, String(MAX_OPTIONAL_RECORDS + 1));
  // Refused within the first block: the reader consumed the allowance of records and the header
  // of the one past it, nothing more.
  assert.equal(pushed, 1);
  assert.equal(offset, streamHead().length + (MAX_OPTIONAL_RECORDS + 1) * 16);
});

test('a flood of empty POOLS pieces is refused by the record budget of the domain', () => {
  const withPools = sampleImage({ memoryMiB: 1, vcpus: 1 });
  withPools.pools = { version: 1, data: new Uint8Array(0) };
  const pools = recordsOf(encodeStream(withPools)).find((r) => r.type === RECORD.pools);
  assert.ok(pools);
  const { error, pushed } = flood(repeated(pools.bytes, 4096), 1_000_000 / 4096);
  assert.equal(error.field, 'records');
  assert.equal(error.rule, 'too-many-records');
  assert.ok(Number(error.value) > MAX_OPTIONAL_RECORDS);
  assert.ok(pushed <= 2, `refused after ${pushed} blocks of 4096 records`);
});

test('skipped optional records are counted per type, in the order first seen', () => {
  let stream = encodeStream(sampleImage());
  for (const type of [0x8000_0777, 0x8000_0778, 0x8000_0777, 0x8000_0777])
    stream = insertRecordBeforeEnd(stream, type, new Uint8Array([1, 2, 3]));
  assert.deepEqual(verifyStream(stream).skipped, [
    { type: 0x8000_0777, count: 3 },
    { type: 0x8000_0778, count: 1 },
  ]);
});

test('property: any number of optional records up to the allowance is read; one more is refused', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0x8000_0100, max: 0x8000_0104 }), { minLength: 1, maxLength: 40 }),
      fc.boolean(),
      (types, overflow) => {
        const head = streamHead();
        const end = encodeStream(sampleImage()).subarray(head.length);
        const records = types.map((t) => oneRecord(t, new Uint8Array(0)));
        // Pad to exactly the allowance (or one past it) with the first type.
        const fill = MAX_OPTIONAL_RECORDS - records.length + (overflow ? 1 : 0);
        const stream = Buffer.concat([head, ...records, repeated(records[0]!, fill), end]);
        if (!overflow) {
          const total = verifyStream(stream).skipped.reduce((sum, s) => sum + s.count, 0);
          assert.equal(total, MAX_OPTIONAL_RECORDS);
          return;
        }
        assert.throws(
          () => verifyStream(stream),
          (e: unknown) => e instanceof FormatError && e.rule === 'too-many-optional-records',
        );
      },
    ),
    { numRuns: 30 },
  );
});

test('a stream longer than its domain can need is refused at the record header that passes the bound', () => {
  // Optional records of 1 MiB: the byte budget allows about MAX_OPTIONAL_BYTES of them besides
  // the domain's own needs (2 MiB of memory, a 1 MiB STATS; no pool snapshot accepted here),
  // far fewer than the record allowance.
  const big = oneRecord(EMPTY_OPTIONAL, new Uint8Array(1 << 20));
  const { error, pushed } = flood(big, MAX_OPTIONAL_RECORDS, { maxPoolBytes: 0 });
  assert.equal(error.field, 'stream');
  assert.equal(error.rule, 'too-many-bytes');
  assert.ok(pushed <= MAX_OPTIONAL_BYTES / (1 << 20) + 8, `refused after ${pushed} records of 1 MiB`);
});
