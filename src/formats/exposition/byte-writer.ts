/**
 * A growing output buffer for the text encoders: a scrape of a big host is tens of megabytes of
 * short lines, and writing bytes into one Buffer is several times faster than building (and then
 * encoding) a JavaScript string of the same lines. Label sets and names are encoded to bytes once
 * and copied; numbers are written as ASCII.
 */

/** Buffer's own per-encoding writers (what `write(s, offset, encoding)` calls after checking its arguments). */
interface DirectWrites {
  latin1Write?(s: string, offset: number): number;
  utf8Write?(s: string, offset: number): number;
}
const direct = Buffer.prototype as unknown as DirectWrites;
const HAS_DIRECT = typeof direct.latin1Write === 'function' && typeof direct.utf8Write === 'function';

export class ByteWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, initialSize));
  }

  get length(): number {
    return this.#pos;
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  /** A string known to be ASCII (names, numbers, fixed syntax). */
  ascii(s: string): void {
    this.#ensure(s.length);
    this.#pos += HAS_DIRECT
      ? (this.#buf as unknown as Required<DirectWrites>).latin1Write(s, this.#pos)
      : this.#buf.write(s, this.#pos, 'latin1');
  }

  /** Any string, as UTF-8 (lone surrogates become U+FFFD, as Buffer does). */
  utf8(s: string): void {
    this.#ensure(s.length * 3);
    this.#pos += HAS_DIRECT
      ? (this.#buf as unknown as Required<DirectWrites>).utf8Write(s, this.#pos)
      : this.#buf.write(s, this.#pos, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  byte(c: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = c;
  }

  /** The bytes written (a view of the buffer, which this writer no longer touches). */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}
