/**
 * The protobuf writer against protobufjs' reader (the one the official OTLP definitions are
 * compiled for): every wire type round-trips exactly, nested messages included.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProtobufWriter } from '../../src/formats/exposition/protobuf-message-writer.ts';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: protobufjs/minimal is untyped here
const { Reader } = require('protobufjs/minimal') as any;

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });

test('scalars round-trip through protobufjs exactly (property)', () => {
  fc.assert(
    fc.property(
      u64,
      i64,
      u64,
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.double(),
      fc.string({ unit: 'grapheme' }),
      fc.integer({ min: 1, max: 0x1fffffff }),
      (uv, sv, fv, s32, d, str, field) => {
        const w = new ProtobufWriter()
          .uint(field, uv)
          .sfixed64(2, sv)
          .fixed64(3, fv)
          .sint32(4, s32)
          .double(5, d)
          .string(6, str)
          .uint(7, true);
        const r = Reader.create(w.finish());
        assert.equal(r.uint32(), field * 8);
        assert.equal(r.uint64().toString(), String(uv));
        assert.equal(r.uint32(), (2 << 3) | 1);
        assert.equal(r.sfixed64().toString(), String(sv));
        assert.equal(r.uint32(), (3 << 3) | 1);
        assert.equal(r.fixed64().toString(), String(fv));
        assert.equal(r.uint32(), (4 << 3) | 0);
        assert.equal(r.sint32(), s32);
        assert.equal(r.uint32(), (5 << 3) | 1);
        assert.ok(Object.is(r.double(), d));
        assert.equal(r.uint32(), (6 << 3) | 2);
        assert.equal(r.string(), str);
        assert.equal(r.uint32(), (7 << 3) | 0);
        assert.equal(r.bool(), true);
        assert.equal(r.pos, r.len);
      },
    ),
    { numRuns: 300 },
  );
});

test('nested messages and packed fields of any size keep their lengths (property)', () => {
  fc.assert(
    fc.property(
      fc.array(u64, { maxLength: 300 }),
      fc.array(fc.double(), { maxLength: 50 }),
      fc.nat(5),
      (values, doubles, depth) => {
        let inner = new ProtobufWriter().packedUint64(1, values).packedFixed64(2, values).packedDouble(3, doubles);
        for (let i = 0; i < depth; i++) inner = new ProtobufWriter().string(9, 'x').message(1, inner);
        const bytes = new ProtobufWriter().message(1, inner).finish();
        let r = Reader.create(bytes);
        for (let i = 0; i <= depth; i++) {
          assert.equal(r.uint32(), (1 << 3) | 2);
          const body = r.bytes();
          assert.equal(r.pos, r.len);
          r = Reader.create(body);
          if (i < depth) {
            assert.equal(r.uint32(), (9 << 3) | 2);
            assert.equal(r.string(), 'x');
          }
        }
        const read = (wire: number, each: (x: typeof r) => string | number): (string | number)[] => {
          const out: (string | number)[] = [];
          assert.equal(r.uint32(), wire);
          const end = r.uint32() + r.pos;
          while (r.pos < end) out.push(each(r));
          return out;
        };
        if (values.length > 0) {
          assert.deepEqual(
            read((1 << 3) | 2, (x) => x.uint64().toString()),
            values.map(String),
          );
          assert.deepEqual(
            read((2 << 3) | 2, (x) => x.fixed64().toString()),
            values.map(String),
          );
        }
        if (doubles.length > 0)
          assert.deepEqual(
            read((3 << 3) | 2, (x) => x.double()),
            doubles,
          );
        assert.equal(r.pos, r.len);
      },
    ),
    { numRuns: 100 },
  );
});

test('values that do not fit their wire type are refused, never truncated', () => {
  const w = new ProtobufWriter();
  assert.throws(() => w.uint(1, -1n), { name: 'InternalError' });
  assert.throws(() => w.uint(1, 1n << 64n), { name: 'InternalError' });
  assert.throws(() => w.fixed64(1, 1n << 64n), { name: 'InternalError' });
  assert.throws(() => w.sfixed64(1, 1n << 63n), { name: 'InternalError' });
  assert.throws(() => w.sint32(1, 2 ** 31), { name: 'InternalError' });
  assert.throws(() => w.string(0, 'x'), { name: 'InternalError' });
  assert.throws(() => w.string(2 ** 29, 'x'), { name: 'InternalError' });
  assert.equal(w.length, 0);
});
