/**
 * The collector's answer to an OTLP/HTTP metrics push: an ExportMetricsServiceResponse
 * (opentelemetry.proto.collector.metrics.v1) whose only field, partial_success (1), says how many
 * data points it rejected (rejected_data_points, 1, int64) and why (error_message, 2, string).
 *
 * The bytes come from the network, so the reader trusts nothing: every length is checked against
 * what is left, unknown fields are skipped by wire type, and a break is a FormatError naming the
 * field — never a read past the end or a hang.
 */
import { FormatError } from '../../errors.ts';

export interface OtlpPartialSuccess {
  rejectedDataPoints: bigint;
  errorMessage: string;
}

const FORMAT = 'OTLP export response';
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** undefined when the collector took everything (no partial_success, or an empty one). */
export function readOtlpMetricsResponse(bytes: Uint8Array): OtlpPartialSuccess | undefined {
  let partial: OtlpPartialSuccess | undefined;
  for (const f of fields(bytes, 'ExportMetricsServiceResponse')) {
    if (f.number !== 1) continue;
    if (f.bytes === undefined) throw wrongWireType('partial_success');
    partial = { rejectedDataPoints: 0n, errorMessage: '' };
    for (const g of fields(f.bytes, 'partial_success')) {
      if (g.number === 1) {
        if (g.varint === undefined) throw wrongWireType('partial_success.rejected_data_points');
        partial.rejectedDataPoints = BigInt.asIntN(64, g.varint);
      } else if (g.number === 2) {
        if (g.bytes === undefined) throw wrongWireType('partial_success.error_message');
        partial.errorMessage = utf8.decode(g.bytes);
      }
    }
  }
  if (partial === undefined || (partial.rejectedDataPoints === 0n && partial.errorMessage === '')) return undefined;
  return partial;
}

function wrongWireType(field: string): FormatError {
  return new FormatError(FORMAT, field, 'wire-type', 'has the wrong wire type');
}

interface Field {
  number: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

function* fields(bytes: Uint8Array, message: string): Generator<Field> {
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = bytes[at++];
      if (b === undefined) throw new FormatError(FORMAT, message, 'truncated', 'ends inside a varint');
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, value);
    }
    throw new FormatError(FORMAT, message, 'varint', 'has a varint longer than 10 bytes');
  };
  const skip = (n: number) => {
    if (n > bytes.length - at) throw new FormatError(FORMAT, message, 'truncated', `ends inside a field`);
    at += n;
  };
  while (at < bytes.length) {
    const tag = varint();
    const number = Number(tag >> 3n);
    if (number < 1 || number > 0x1fffffff) {
      throw new FormatError(FORMAT, message, 'field-number', 'has an invalid field number', String(tag >> 3n));
    }
    switch (Number(tag & 7n)) {
      case 0:
        yield { number, varint: varint() };
        break;
      case 1:
        skip(8);
        break;
      case 2: {
        const length = varint();
        if (length > BigInt(bytes.length - at)) {
          throw new FormatError(FORMAT, message, 'truncated', 'has a length past its end', String(length));
        }
        const start = at;
        skip(Number(length));
        yield { number, bytes: bytes.subarray(start, at) };
        break;
      }
      case 5:
        skip(4);
        break;
      default:
        throw new FormatError(FORMAT, message, 'wire-type', 'has an unsupported wire type', String(tag & 7n));
    }
  }
}
