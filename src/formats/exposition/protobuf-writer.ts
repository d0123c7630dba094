/**
 * The one protobuf writer of the binary exposition formats (Prometheus' delimited MetricFamily
 * stream, OTLP's ExportMetricsServiceRequest): varints (number and u64 bigint), zigzag, fixed64,
 * doubles, bools, strings, bytes, packed repeated fields and nested length-delimited messages, into
 * one growing buffer. Nothing here parses.
 *
 * A nested message reserves one length byte and writes its body in place; when the body is 128
 * bytes or longer the body moves right by the extra length bytes (one copyWithin), so small
 * messages — most of them — are never copied.
 *
 * 64-bit values are bigints so u64 counters stay exact; a value that does not fit its wire type is
 * a defect (InternalError), never silently truncated.
 */
import { InternalError } from '../../errors.ts';

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const MIN_I32 = -(2 ** 31);
const MAX_I32 = 2 ** 31 - 1;
const MAX_FIELD = 0x1fffffff;
const encoder = new TextEncoder();

export class ProtoWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.#buf = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#pos;
  }

  /** A copy of what was written, for the caller to keep. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** An unsigned varint of a safe integer (0 ≤ n < 2^53). */
  varint(n: number): void {
    this.#ensure(10);
    const b = this.#buf;
    let p = this.#pos;
    while (n >= 0x80) {
      b[p++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[p++] = n;
    this.#pos = p;
  }

  /** An unsigned varint of a u64 (two's complement for negatives, as protobuf's int64 does). */
  varintBig(n: bigint): void {
    if (n >= 0n && n <= 0xffffffffn) {
      this.varint(Number(n));
      return;
    }
    let v = BigInt.asUintN(64, n);
    this.#ensure(10);
    const b = this.#buf;
    let p = this.#pos;
    while (v >= 0x80n) {
      b[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    b[p++] = Number(v);
    this.#pos = p;
  }

  /** zigzag sint32/sint64 of a safe integer. */
  sint(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** zigzag sint64 of a bigint in [-2^63, 2^63). */
  sintBig(n: bigint): void {
    if (n >= -0x7fffffffn && n <= 0x7fffffffn) {
      this.sint(Number(n));
      return;
    }
    this.varintBig(n >= 0n ? n * 2n : -n * 2n - 1n);
  }

  tag(field: number, wireType: 0 | 1 | 2 | 5): void {
    if (!(field >= 1 && field <= MAX_FIELD && Number.isInteger(field))) {
      throw new InternalError(`protobuf field number ${field} is out of range`);
    }
    this.varint(field * 8 + wireType);
  }

  double(n: number): void {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, n, true);
    this.#pos += 8;
  }

  /** 8 bytes little-endian of a u64 (fixed64; sfixed64 after BigInt.asUintN). */
  fixed64(n: bigint): void {
    this.#ensure(8);
    this.#view.setBigUint64(this.#pos, n, true);
    this.#pos += 8;
  }

  string(s: string): void {
    // ASCII (names, most labels) is copied byte by byte; the rest goes through TextEncoder.
    let ascii = s.length < 0x4000;
    for (let i = 0; ascii && i < s.length; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
    if (ascii) {
      this.varint(s.length);
      this.#ensure(s.length);
      const b = this.#buf;
      let p = this.#pos;
      for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
      this.#pos = p;
      return;
    }
    const bytes = encoder.encode(s);
    this.varint(bytes.length);
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Bytes already encoded (e.g. cached fields). */
  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** field = varint u64 (skipped when zero, protobuf's default). */
  uint64Field(field: number, n: bigint): void {
    if (n === 0n) return;
    checkU64(field, n);
    this.#varintField(field, n);
  }

  /** field = varint int64, two's complement, written even when zero (a oneof member must be). */
  int64Field(field: number, n: bigint): void {
    checkI64(field, n);
    this.#varintField(field, n);
  }

  /** field = bool, written even when false (a oneof member must be). */
  boolField(field: number, b: boolean): void {
    this.#varintField(field, b ? 1n : 0n);
  }

  #varintField(field: number, n: bigint): void {
    this.tag(field, 0);
    this.varintBig(n);
  }

  /** field = zigzag sint32. */
  sint32Field(field: number, n: number): void {
    if (!(Number.isInteger(n) && n >= MIN_I32 && n <= MAX_I32)) {
      throw new InternalError(`protobuf field ${field}: ${n} is not an int32`);
    }
    this.tag(field, 0);
    this.sint(n);
  }

  /** field = fixed64 (u64, little-endian). */
  fixed64Field(field: number, n: bigint): void {
    checkU64(field, n);
    this.tag(field, 1);
    this.fixed64(n);
  }

  /** field = sfixed64: the two's complement bits as a fixed64. */
  sfixed64Field(field: number, n: bigint): void {
    checkI64(field, n);
    this.fixed64Field(field, BigInt.asUintN(64, n));
  }

  doubleField(field: number, n: number): void {
    this.tag(field, 1);
    this.double(n);
  }

  stringField(field: number, s: string): void {
    this.tag(field, 2);
    this.string(s);
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, 2);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** Packed repeated uint64 varints (omitted when empty, as proto3 does). */
  packedUint64(field: number, values: readonly bigint[]): void {
    this.#packed(field, values, checkU64, (v) => this.varintBig(v));
  }

  /** Packed repeated fixed64 (omitted when empty). */
  packedFixed64(field: number, values: readonly bigint[]): void {
    this.#packed(field, values, checkU64, (v) => this.fixed64(v));
  }

  /** Packed repeated double (omitted when empty). */
  packedDouble(field: number, values: readonly number[]): void {
    this.#packed(
      field,
      values,
      () => {},
      (v) => this.double(v),
    );
  }

  /** Checks every value first, so a refused one leaves nothing half-written. */
  #packed<T>(field: number, values: readonly T[], check: (field: number, v: T) => void, write: (v: T) => void): void {
    if (values.length === 0) return;
    for (const v of values) check(field, v);
    const mark = this.begin(field);
    for (const v of values) write(v);
    this.end(mark);
  }

  /** Starts a length-delimited body (after the field's tag, or bare for a delimited stream). */
  begin(field?: number): number {
    if (field !== undefined) this.tag(field, 2);
    this.#ensure(1);
    return this.#pos++;
  }

  /** Ends the body begun at `mark`: writes its length, moving the body when it needs more bytes. */
  end(mark: number): void {
    const bodyStart = mark + 1;
    const len = this.#pos - bodyStart;
    if (len < 0x80) {
      this.#buf[mark] = len;
      return;
    }
    let extra = 0;
    for (let v = len; v >= 0x80; v = Math.floor(v / 0x80)) extra++;
    this.#ensure(extra);
    this.#buf.copyWithin(bodyStart + extra, bodyStart, this.#pos);
    this.#pos += extra;
    let p = mark;
    let v = len;
    while (v >= 0x80) {
      this.#buf[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[p] = v;
  }
}

function checkU64(field: number, n: bigint): void {
  if (n < 0n || n > MAX_U64) throw new InternalError(`protobuf field ${field}: ${n} is not a u64`);
}

function checkI64(field: number, n: bigint): void {
  if (n < MIN_I64 || n > MAX_I64) throw new InternalError(`protobuf field ${field}: ${n} is not an i64`);
}
