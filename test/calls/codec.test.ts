import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import { BATCH_CALL } from '../../src/formats/callbatch/constants.ts';
import { shippedCallWordAbi } from '../../src/formats/callword/abi.ts';
import * as C from '../../src/formats/callword/constants.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/formats/callword/frame.ts';
import * as Pools from '../../src/formats/callword/pool.ts';
import { decodeDomainInfo, encodeDomainInfo, packName, unpackName } from '../../src/formats/callword/values.ts';
import { callKey, callWord, decodeCallWord, encodeCallWord } from '../../src/formats/callword/word.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

test('the TypeScript constants are the frozen ABI’s numbers', () => {
  const abi = shippedCallWordAbi();
  const constant = (name: string) => BigInt(abi.constants.find((c) => c.name === name)!.value);
  assert.equal(constant('FAMILY_SHIFT'), BigInt(C.FAMILY_SHIFT));
  assert.equal(constant('CALL_SHIFT'), BigInt(C.CALL_SHIFT));
  assert.equal(constant('RESERVED_MASK'), BigInt(C.RESERVED_MASK));
  assert.equal(constant('ANNOTATION_MASK'), BigInt(C.ANNOTATION_MASK));
  assert.equal(constant('MAX_ARGS'), BigInt(C.MAX_ARGS));
  assert.equal(constant('MAX_VALUES'), BigInt(C.MAX_VALUES));
  assert.equal(constant('REQUEST_MAGIC'), BigInt(C.REQUEST_MAGIC));
  assert.equal(constant('RESPONSE_MAGIC'), BigInt(C.RESPONSE_MAGIC));
  const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const enumValues = (name: string) =>
    Object.fromEntries(abi.enums.find((e) => e.name === name)!.values.map((v) => [v.name, v.value]));
  const asSnake = (o: Record<string, number | bigint>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), Number(v)]));
  assert.deepEqual(enumValues('family'), asSnake(C.FAMILY));
  assert.deepEqual(enumValues('status'), asSnake(C.STATUS));
  assert.deepEqual(enumValues('core_call'), asSnake(C.CORE_CALL));
  assert.deepEqual(enumValues('domain_call'), asSnake(C.DOMAIN_CALL));
  assert.deepEqual(enumValues('lifecycle_call'), asSnake(C.LIFECYCLE_CALL));
  assert.deepEqual(enumValues('domain_state'), asSnake(C.DOMAIN_STATE));
  assert.deepEqual(enumValues('workload'), asSnake(C.WORKLOAD));
  // Flags: bit numbers in the ABI, masks in TypeScript.
  assert.deepEqual(enumValues('annotation'), { may_queue: 0 });
  assert.equal(C.ANNOTATION.mayQueue, 1);
  assert.deepEqual(enumValues('query_flags'), { supported: 0, tool: 1, guest: 2 });
  assert.deepEqual(C.QUERY_FLAG, { supported: 1n, tool: 2n, guest: 4n });
  assert.deepEqual(enumValues('create_flags'), { paused: 0 });
  // Revision 2: the batch calls of the core family and the pool family.
  assert.equal(C.CORE_CALL.batchRegister, BATCH_CALL.register);
  assert.equal(C.CORE_CALL.batchFlush, BATCH_CALL.flush);
  assert.deepEqual(enumValues('pool_call'), asSnake(C.POOL_CALL));
  assert.deepEqual(enumValues('stream_call'), asSnake(C.STREAM_CALL));
  assert.deepEqual(enumValues('experimental_call'), asSnake(C.EXPERIMENTAL_CALL));
  assert.deepEqual(enumValues('pool_version'), asSnake(C.POOL_VERSION));
  assert.deepEqual(enumValues('pool_flags'), { persistent: 0 });
  assert.equal(C.POOL_FLAG.persistent, 1);
  assert.equal(constant('POOL_FLAGS_RESERVED_MASK'), BigInt(C.POOL_FLAG.reservedMask));
  assert.equal(constant('POOL_VERSION_SHIFT'), BigInt(C.POOL_FLAG.versionShift));
  assert.equal(constant('POOL_VERSION_MASK'), BigInt(C.POOL_FLAG.versionMask));
  assert.equal(constant('POOL_ID_MASK'), BigInt(C.POOL_ID_MASK));
  // Every bit of the create flags is persistent, reserved or version: nothing undefined.
  assert.equal((C.POOL_FLAG.persistent | C.POOL_FLAG.reservedMask | C.POOL_FLAG.versionMask) >>> 0, 0xffff_ffff);
  // The pool service uses these very numbers.
  assert.equal(Pools.MAX_POOL_ID, C.POOL_ID_MASK);
  assert.deepEqual([...Pools.POOL_VERSIONS], Object.values(C.POOL_VERSION));
  assert.equal(abi.revision >= 2, true);
  const sizes = Object.fromEntries(abi.structs.map((s) => [s.name, s.size]));
  assert.deepEqual(sizes, { request_header: C.HEADER_SIZE, response_header: C.HEADER_SIZE });
});

test('a call word splits into family | call | reserved | annotation and back', () => {
  assert.equal(callWord(C.FAMILY.domain, C.DOMAIN_CALL.pause), 0x01040000);
  assert.equal(encodeCallWord({ family: 0xff, call: 0x12, reserved: 0x34, annotation: 0x56 }), 0xff123456);
  assert.deepEqual(decodeCallWord(0xff123456), { family: 0xff, call: 0x12, reserved: 0x34, annotation: 0x56 });
  assert.equal(callKey(0x01040f81), 0x01040000);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (w) => {
      assert.equal(encodeCallWord(decodeCallWord(w)), w);
    }),
    { numRuns: 500 },
  );
});

test('call-word parts out of range are refused, naming the field', () => {
  assert.throws(
    () => encodeCallWord({ family: 256, call: 0 }),
    (e: FormatError) => e.field === 'family',
  );
  assert.throws(
    () => encodeCallWord({ family: 0, call: -1 }),
    (e: FormatError) => e.field === 'call',
  );
  assert.throws(
    () => encodeCallWord({ family: 0, call: 0, reserved: 1.5 }),
    (e: FormatError) => e.field === 'reserved',
  );
  assert.throws(
    () => decodeCallWord(2 ** 32),
    (e: FormatError) => e.rule === 'u32-range',
  );
});

test('request and response frames round-trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(u64, { maxLength: C.MAX_ARGS }), (word, args) => {
      const buf = encodeRequest(word, args);
      assert.deepEqual(decodeRequest(buf), { kind: 'frame', frame: { word, args }, size: buf.length });
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.array(u64, { maxLength: C.MAX_VALUES }),
      (status, values) => {
        const buf = encodeResponse(status, values);
        assert.deepEqual(decodeResponse(buf), { kind: 'frame', frame: { status, values }, size: buf.length });
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(
    () => encodeRequest(0, new Array(C.MAX_ARGS + 1).fill(0n)),
    (e: FormatError) => e.rule === 'max-args',
  );
});

test('frame headers that can never be valid are refused before their numbers are used', () => {
  const header = (magic: number, length: number, nargs: number) => {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(magic, 0);
    b.writeUInt32LE(length, 4);
    b.writeUInt32LE(nargs, 12);
    return b;
  };
  const rule = (b: Buffer) => {
    try {
      decodeRequest(b);
      return 'none';
    } catch (e) {
      return (e as FormatError).rule;
    }
  };
  assert.equal(rule(header(0x12345678, 16, 0)), 'magic');
  assert.equal(rule(header(C.REQUEST_MAGIC, 0xffffffff, 0)), 'length-range');
  assert.equal(rule(header(C.REQUEST_MAGIC, 15, 0)), 'length-range');
  assert.equal(rule(header(C.REQUEST_MAGIC, 24, 9)), 'max-nargs');
  assert.equal(rule(header(C.REQUEST_MAGIC, 24, 0)), 'length-matches-count');
  // Partial frames ask for what they need, never more than a maximal frame.
  assert.deepEqual(decodeRequest(Buffer.alloc(3)), { kind: 'need', bytes: 16 });
  assert.deepEqual(decodeRequest(header(C.REQUEST_MAGIC, 32, 2)), { kind: 'need', bytes: 32 });
});

test('any bytes decode to a frame, a bounded need, or a FormatError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withMagic) => {
      const buf = Buffer.from(bytes);
      if (withMagic && buf.length >= 4) buf.writeUInt32LE(C.REQUEST_MAGIC, 0);
      try {
        const d = decodeRequest(buf);
        if (d.kind === 'need') assert.ok(d.bytes <= C.MAX_REQUEST_SIZE && d.bytes > buf.length);
        else assert.ok(d.size <= buf.length && d.frame.args.length <= C.MAX_ARGS);
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('domain names travel as two u64; bad name bytes are refused', () => {
  for (const name of ['', 'a', 'web-1', 'ünïcødé', '123456789012345']) {
    const [lo, hi] = packName(name);
    assert.equal(unpackName(lo, hi), name);
  }
  assert.throws(
    () => packName('1234567890123456'),
    (e: FormatError) => e.rule === 'name-length',
  );
  assert.throws(
    () => packName('a\0b'),
    (e: FormatError) => e.rule === 'name-nul',
  );
  assert.throws(
    () => unpackName((1n << 64n) - 1n, (1n << 64n) - 1n),
    (e: FormatError) => e.rule === 'name-nul',
  );
  assert.throws(
    () => unpackName(0x41n, 0x42n),
    (e: FormatError) => e.rule === 'name-padding',
  );
  assert.throws(
    () => unpackName(0xffn, 0n),
    (e: FormatError) => e.rule === 'name-utf8',
  );
  const info = {
    domid: 7,
    uniqueId: 0xdeadbeefcafef00dn,
    generation: 3,
    state: 'paused' as const,
    vcpus: 2,
    memoryMiB: 16,
    workload: 'mixed' as const,
    name: 'db',
  };
  assert.deepEqual(decodeDomainInfo(encodeDomainInfo(info)), info);
  assert.throws(() => decodeDomainInfo([1n]), FormatError);
  const bad = encodeDomainInfo(info);
  bad[3] = 99n;
  assert.throws(
    () => decodeDomainInfo(bad),
    (e: FormatError) => e.field === 'state',
  );
});

test('status names are the ABI’s', () => {
  assert.equal(C.statusName(C.STATUS.reservedBits), 'reserved_bits');
  assert.equal(C.statusName(-999), 'status -999');
});
