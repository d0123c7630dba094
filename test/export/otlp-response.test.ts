/**
 * The collector's answer (ExportMetricsServiceResponse), encoded by the official definitions and
 * read by hvkit's reader; hostile bytes give a FormatError, never anything else.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.ts';
import { readOtlpMetricsResponse } from '../../src/formats/exposition/otlp-response.ts';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: protobufjs' generated static code is untyped here
const root = require(join(dirname(require.resolve('@opentelemetry/otlp-transformer')), 'generated', 'root.js')) as any;
const Response = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

function officialBytes(message: object): Uint8Array {
  return Response.encode(Response.fromObject(message)).finish();
}

test('an empty answer or an empty partial success means everything was taken', () => {
  assert.equal(readOtlpMetricsResponse(new Uint8Array()), undefined);
  assert.equal(readOtlpMetricsResponse(officialBytes({})), undefined);
  assert.equal(readOtlpMetricsResponse(officialBytes({ partialSuccess: {} })), undefined);
});

test('partial success from the official encoder reads back exactly (property)', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      fc.string({ unit: 'grapheme' }),
      (n, message) => {
        const bytes = officialBytes({ partialSuccess: { rejectedDataPoints: n.toString(), errorMessage: message } });
        const read = readOtlpMetricsResponse(bytes);
        if (n === 0n && message === '') assert.equal(read, undefined);
        else assert.deepEqual(read, { rejectedDataPoints: n, errorMessage: message });
      },
    ),
  );
});

test('hostile bytes: a FormatError or a reading, never another error (property)', () => {
  const valid = officialBytes({ partialSuccess: { rejectedDataPoints: '12', errorMessage: 'bad point' } });
  const mutated = fc.tuple(fc.nat(valid.length), fc.nat(255), fc.nat(valid.length)).map(([at, byte, cut]) => {
    const b = Uint8Array.from(valid);
    b[at % b.length] = byte;
    return b.subarray(0, cut);
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
      try {
        const read = readOtlpMetricsResponse(bytes);
        if (read !== undefined) assert.equal(typeof read.rejectedDataPoints, 'bigint');
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('a length past the end and an overlong varint are named', () => {
  assert.throws(() => readOtlpMetricsResponse(Uint8Array.of(0x0a, 0x05, 0x08)), /length past its end/);
  assert.throws(
    () => readOtlpMetricsResponse(Uint8Array.of(0x08, ...Array(11).fill(0xff))),
    /varint longer than 10 bytes/,
  );
  assert.throws(() => readOtlpMetricsResponse(Uint8Array.of(0x08)), /ends inside a varint/);
  assert.throws(() => readOtlpMetricsResponse(Uint8Array.of(0x08, 0x01)), /partial_success: wire-type/);
});
