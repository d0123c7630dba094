/**
 * A minimal protocol-buffers writer for the binary exposition formats: varint, zigzag, fixed64,
 * double and length-delimited fields, packed repeated fields — exactly what the encoders need and
 * nothing that parses. A message is a writer; a nested message is written by handing its writer to
 * `message`, which appends the child's chunks without copying them, so nesting costs one pass.
 *
 * 64-bit values are bigints so u64 counters stay exact; the writer checks each value fits its
 * wire type (a defect otherwise, never silently truncated).
 */
import { InternalError } from '../../errors.ts';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

const utf8 = new TextEncoder();

export class ProtobufWriter {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  /** Scratch for scalar fields, flushed into #chunks when full or when a chunk is appended. */
  // Small at first: most messages (attributes, data points) are a few dozen bytes.
  #scratch = new Uint8Array(64);
  #used = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length + this.#used;
  }

  /** uint64/uint32/bool/enum field (non-negative only: negative int32 varints are not needed). */
  uint(field: number, value: bigint | number | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
    if (v < 0n || v > U64_MAX) throw new InternalError(`protobuf field ${field}: ${v} is not a u64`);
    this.#tag(field, WIRE_VARINT);
    this.#varint(v);
    return this;
  }

  /** sint32 field (zigzag varint). */
  sint32(field: number, value: number): this {
    if (!Number.isInteger(value) || value < I32_MIN || value > I32_MAX) {
      throw new InternalError(`protobuf field ${field}: ${value} is not an int32`);
    }
    this.#tag(field, WIRE_VARINT);
    this.#varint(BigInt(value >= 0 ? value * 2 : -value * 2 - 1));
    return this;
  }

  /** fixed64 field (unsigned). */
  fixed64(field: number, value: bigint): this {
    if (value < 0n || value > U64_MAX) throw new InternalError(`protobuf field ${field}: ${value} is not a u64`);
    this.#tag(field, WIRE_FIXED64);
    this.#u64le(value);
    return this;
  }

  /** sfixed64 field (two's complement). */
  sfixed64(field: number, value: bigint): this {
    if (value < I64_MIN || value > I64_MAX) throw new InternalError(`protobuf field ${field}: ${value} is not an i64`);
    this.#tag(field, WIRE_FIXED64);
    this.#u64le(BigInt.asUintN(64, value));
    return this;
  }

  double(field: number, value: number): this {
    this.#tag(field, WIRE_FIXED64);
    this.#double(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE_LEN);
    this.#varint(BigInt(value.length));
    this.#append(value);
    return this;
  }

  /** A nested message: the child's bytes, length-delimited. The child must not be written to after. */
  message(field: number, child: ProtobufWriter): this {
    child.#flush();
    this.#tag(field, WIRE_LEN);
    this.#varint(BigInt(child.#length));
    for (const chunk of child.#chunks) this.#append(chunk);
    return this;
  }

  /** Packed repeated fixed64 (omitted when empty, as proto3 does). */
  packedFixed64(field: number, values: readonly bigint[]): this {
    if (values.length === 0) return this;
    const body = new ProtobufWriter();
    for (const v of values) {
      if (v < 0n || v > U64_MAX) throw new InternalError(`protobuf field ${field}: ${v} is not a u64`);
      body.#u64le(v);
    }
    return this.message(field, body);
  }

  /** Packed repeated uint64 varints (omitted when empty). */
  packedUint64(field: number, values: readonly bigint[]): this {
    if (values.length === 0) return this;
    const body = new ProtobufWriter();
    for (const v of values) {
      if (v < 0n || v > U64_MAX) throw new InternalError(`protobuf field ${field}: ${v} is not a u64`);
      body.#varint(v);
    }
    return this.message(field, body);
  }

  /** Packed repeated double (omitted when empty). */
  packedDouble(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const body = new ProtobufWriter();
    for (const v of values) body.#double(v);
    return this.message(field, body);
  }

  /** The message as one buffer. */
  finish(): Uint8Array {
    this.#flush();
    if (this.#chunks.length === 1) return this.#chunks[0] as Uint8Array;
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  #tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) {
      throw new InternalError(`protobuf field number ${field} is out of range`);
    }
    this.#varint(BigInt(field) * 8n + BigInt(wire));
  }

  #room(n: number): void {
    if (this.#used + n > this.#scratch.length) this.#flush();
  }

  #varint(v: bigint): void {
    this.#room(10);
    let rest = v;
    while (rest >= 0x80n) {
      this.#scratch[this.#used++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.#scratch[this.#used++] = Number(rest);
  }

  #u64le(v: bigint): void {
    this.#room(8);
    new DataView(this.#scratch.buffer, this.#scratch.byteOffset + this.#used, 8).setBigUint64(0, v, true);
    this.#used += 8;
  }

  #double(v: number): void {
    this.#room(8);
    new DataView(this.#scratch.buffer, this.#scratch.byteOffset + this.#used, 8).setFloat64(0, v, true);
    this.#used += 8;
  }

  #append(chunk: Uint8Array): void {
    this.#flush();
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Moves the scratch bytes into the chunk list and starts a fresh scratch. */
  #flush(): void {
    if (this.#used === 0) return;
    const done = this.#scratch.subarray(0, this.#used);
    this.#chunks.push(done);
    this.#length += done.length;
    // Keep writing into the rest of the scratch (the flushed part is now owned by the chunk).
    const rest = this.#scratch.length - this.#used;
    this.#scratch = rest >= 16 ? this.#scratch.subarray(this.#used) : new Uint8Array(1024);
    this.#used = 0;
  }
}
