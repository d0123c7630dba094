/**
 * The protobuf writer (ProtoWriter, shared by the Prometheus and OTLP encoders) against protobufjs'
 * reader (the one the official OTLP definitions are compiled for): every wire type round-trips
 * exactly, nested messages and packed fields included, bodies of any length.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProtoWriter } from '../../src/formats/exposition/protobuf-writer.ts';

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
        // A 1-byte start: every field grows the buffer.
        const w = new ProtoWriter(1);
        w.tag(field, 0);
        w.varintBig(uv);
        w.sfixed64Field(2, sv);
        w.fixed64Field(3, fv);
        w.sint32Field(4, s32);
        w.doubleField(5, d);
        w.stringField(6, str);
        w.boolField(7, true);
        w.int64Field(8, sv);
        w.boolField(9, false);
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
        assert.equal(r.uint32(), (8 << 3) | 0);
        assert.equal(r.int64().toString(), String(sv));
        assert.equal(r.uint32(), (9 << 3) | 0, 'a false bool is written (a oneof member must be)');
        assert.equal(r.bool(), false);
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
      fc.uint8Array({ maxLength: 300 }),
      (values, doubles, depth, raw) => {
        const w = new ProtoWriter(1);
        const marks: number[] = [w.begin(1)];
        for (let i = 0; i < depth; i++) {
          w.stringField(9, 'x');
          marks.push(w.begin(1));
        }
        w.packedUint64(1, values);
        w.packedFixed64(2, values);
        w.packedDouble(3, doubles);
        w.bytesField(4, raw);
        for (const mark of marks.reverse()) w.end(mark);
        const bytes = w.finish();
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
        assert.equal(r.uint32(), (4 << 3) | 2);
        assert.deepEqual([...r.bytes()], [...raw]);
        assert.equal(r.pos, r.len);
      },
    ),
    { numRuns: 100 },
  );
});

test('values that do not fit their wire type are refused, never truncated', () => {
  const w = new ProtoWriter();
  assert.throws(() => w.uint64Field(1, -1n), { name: 'InternalError' });
  assert.throws(() => w.uint64Field(1, 1n << 64n), { name: 'InternalError' });
  assert.throws(() => w.fixed64Field(1, 1n << 64n), { name: 'InternalError' });
  assert.throws(() => w.fixed64Field(1, -1n), { name: 'InternalError' });
  assert.throws(() => w.sfixed64Field(1, 1n << 63n), { name: 'InternalError' });
  assert.throws(() => w.int64Field(1, 1n << 63n), { name: 'InternalError' });
  assert.throws(() => w.sint32Field(1, 2 ** 31), { name: 'InternalError' });
  assert.throws(() => w.sint32Field(1, 0.5), { name: 'InternalError' });
  assert.throws(() => w.packedUint64(1, [1n, 1n << 64n]), { name: 'InternalError' });
  assert.throws(() => w.packedFixed64(1, [-1n]), { name: 'InternalError' });
  assert.throws(() => w.stringField(0, 'x'), { name: 'InternalError' });
  assert.throws(() => w.stringField(2 ** 29, 'x'), { name: 'InternalError' });
  assert.equal(w.length, 0);
});

test('empty packed fields and zero uint64 fields are left out, as proto3 does', () => {
  const w = new ProtoWriter();
  w.packedUint64(1, []);
  w.packedFixed64(2, []);
  w.packedDouble(3, []);
  w.uint64Field(4, 0n);
  assert.equal(w.length, 0);
});

test('protobuf writer: varints, zigzag and long nested bodies decode back', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(u64, i64)), fc.string({ maxLength: 300 }), (pairs, s) => {
      const w = new ProtoWriter(1);
      const outer = w.begin();
      w.stringField(1, s);
      for (const [u, z] of pairs) {
        w.varintBig(u);
        w.sintBig(z);
      }
      w.end(outer);
      const bytes = w.finish();
      // Decode by hand: length, tag, string, then the pairs.
      let pos = 0;
      const varint = () => {
        let v = 0n;
        let shift = 0n;
        for (;;) {
          const b = bytes[pos++]!;
          v |= BigInt(b & 0x7f) << shift;
          if (b < 0x80) return v;
          shift += 7n;
        }
      };
      assert.equal(Number(varint()), bytes.length - pos);
      assert.equal(varint(), 10n);
      const len = Number(varint());
      assert.equal(new TextDecoder().decode(bytes.subarray(pos, pos + len)), Buffer.from(s).toString());
      pos += len;
      for (const [u, z] of pairs) {
        assert.equal(varint(), u);
        const zz = varint();
        assert.equal(zz & 1n ? -(zz >> 1n) - 1n : zz >> 1n, z);
      }
      assert.equal(pos, bytes.length);
    }),
  );
});
