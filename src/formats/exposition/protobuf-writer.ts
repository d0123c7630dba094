/**
 * A minimal protobuf writer: varints (number and u64 bigint), zigzag, doubles, strings and nested
 * length-delimited messages into one growing buffer.
 *
 * A nested message reserves one length byte and writes its body in place; when the body is 128
 * bytes or longer the body moves right by the extra length bytes (one copyWithin), so small
 * messages — most of them — are never copied.
 */

const MAX_U64 = (1n << 64n) - 1n;
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
    this.varint(field * 8 + wireType);
  }

  double(n: number): void {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, n, true);
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
    if (n < 0n || n > MAX_U64) throw new RangeError(`not a u64: ${n}`);
    this.tag(field, 0);
    this.varintBig(n);
  }

  doubleField(field: number, n: number): void {
    this.tag(field, 1);
    this.double(n);
  }

  stringField(field: number, s: string): void {
    this.tag(field, 2);
    this.string(s);
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
