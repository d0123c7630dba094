/** The call-batch codec: constants = the frozen ABI, round trips and header rules (property tests). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadRevisions } from '../../src/abi/registry.ts';
import { FormatError } from '../../src/errors.ts';
import {
  BATCH_CALL,
  BATCH_MAGIC,
  bufferSize,
  checkHeader,
  decodeEntry,
  decodeHeader,
  ENTRY_OFFSET,
  ENTRY_SIZE,
  encodeEntry,
  encodeHeader,
  HEADER_OFFSET,
  HEADER_SIZE,
  KNOWN_FLAGS,
  MAX_CAPACITY,
  NR_ARGS,
  STATUS_PENDING,
} from '../../src/formats/callbatch/index.ts';

test('the TypeScript constants equal the newest frozen revision', async () => {
  const abi = (await loadRevisions('call-batch')).at(-1)!;
  const c = (name: string) => Number(abi.constants.find((k) => k.name === name)!.value);
  assert.equal(c('MAGIC'), BATCH_MAGIC);
  assert.equal(c('MAX_CAPACITY'), MAX_CAPACITY);
  assert.equal(c('NR_ARGS'), NR_ARGS);
  assert.equal(c('STATUS_PENDING'), STATUS_PENDING);
  assert.equal(c('BATCH_REGISTER_CALL'), BATCH_CALL.register);
  assert.equal(c('BATCH_FLUSH_CALL'), BATCH_CALL.flush);
  const struct = (name: string) => abi.structs.find((s) => s.name === name)!;
  assert.equal(struct('header').size, HEADER_SIZE);
  assert.equal(struct('entry').size, ENTRY_SIZE);
  for (const f of struct('header').fields) {
    if (f.name in HEADER_OFFSET) assert.equal(f.offset, HEADER_OFFSET[f.name as keyof typeof HEADER_OFFSET], f.name);
  }
  for (const f of struct('entry').fields) {
    if (f.name in ENTRY_OFFSET) assert.equal(f.offset, ENTRY_OFFSET[f.name as keyof typeof ENTRY_OFFSET], f.name);
  }
});

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

test('header and entry round trip', () => {
  fc.assert(
    fc.property(u32, u32, u32, u32, u32, (magic, capacity, count, next, flags) => {
      const h = decodeHeader(encodeHeader({ magic, capacity, count, next, flags }));
      assert.deepEqual(h, { magic, capacity, count, next, flags, reservedZero: true });
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      u32,
      fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
      u64,
      fc.array(u64, { maxLength: NR_ARGS }),
      (word, status, result, args) => {
        const e = decodeEntry(encodeEntry({ word, status, result, args }));
        const padded = [...args, ...new Array<bigint>(NR_ARGS - args.length).fill(0n)];
        assert.deepEqual(e, { word, status, result, args: padded, reservedZero: true });
      },
    ),
    { numRuns: 300 },
  );
});

test('decoding any bytes never throws; short input is a FormatError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
      for (const [decode, need] of [
        [decodeHeader, HEADER_SIZE],
        [decodeEntry, ENTRY_SIZE],
      ] as const) {
        if (bytes.length < need) assert.throws(() => decode(bytes), FormatError);
        else decode(bytes);
      }
    }),
    { numRuns: 500 },
  );
});

test('checkHeader accepts exactly the headers inside the rules', () => {
  const memory = 1 << 20;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: memory / 8 }).map((n) => n * 8),
      fc.oneof(fc.constant(BATCH_MAGIC), u32),
      fc.integer({ min: 0, max: MAX_CAPACITY + 2 }),
      fc.integer({ min: 0, max: MAX_CAPACITY + 2 }),
      fc.integer({ min: 0, max: MAX_CAPACITY + 2 }),
      fc.oneof(fc.constant(0), fc.constant(KNOWN_FLAGS), u32),
      (gpa, magic, capacity, count, next, flags) => {
        const h = decodeHeader(encodeHeader({ magic, capacity, count, next, flags }));
        const valid =
          gpa > 0 &&
          magic === BATCH_MAGIC &&
          capacity >= 1 &&
          capacity <= MAX_CAPACITY &&
          gpa + bufferSize(capacity) <= memory &&
          count <= capacity &&
          next <= count &&
          (flags & ~KNOWN_FLAGS) === 0;
        if (valid) checkHeader(h, gpa, memory);
        else assert.throws(() => checkHeader(h, gpa, memory), FormatError);
      },
    ),
    { numRuns: 1000 },
  );
});

test('a header with non-zero reserved bytes is refused, naming the field', () => {
  const bytes = encodeHeader({ capacity: 4, count: 0, next: 0, flags: 0 });
  bytes[HEADER_OFFSET.reserved + 3] = 1;
  assert.throws(
    () => checkHeader(decodeHeader(bytes), 4096, 1 << 20),
    (e: FormatError) => e.field === 'header.reserved' && e.rule === 'reserved-zero',
  );
});
