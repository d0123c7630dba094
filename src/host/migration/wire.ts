/**
 * The socket side of migration and of the stream control requests: text lines in one direction
 * (bounded in length), the stream's bytes in the other, each wait with a deadline, and any
 * close, error or timeout turned into a rejection naming what was awaited.
 */
import type { Socket } from 'node:net';

export const MAX_LINE = 4096;

export class Wire {
  readonly #socket: Socket;
  #text = '';
  #binary: ((chunk: Buffer) => void) | undefined;
  #waiters: (() => void)[] = [];
  #closed: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.#binary) this.#binary(chunk);
      else {
        this.#text += chunk.toString('latin1');
        if (this.#text.length > MAX_LINE && !this.#text.includes('\n'))
          this.#fail(new Error('peer sent an overlong line'));
      }
      this.#wake();
    });
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('the peer closed the connection')));
  }

  get socket(): Socket {
    return this.#socket;
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The next line (without its newline). */
  readLine(timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      const check = () => {
        const nl = this.#text.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          const line = this.#text.slice(0, nl);
          this.#text = this.#text.slice(nl + 1);
          resolve(line);
        } else if (this.#closed) {
          clearTimeout(timer);
          reject(new Error(`${this.#closed.message} while waiting for ${what}`));
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  /**
   * Hands every received byte to `sink` until it returns true (done) or throws; bytes already
   * buffered as text go first. Rejects on close, error, or `timeoutMs` without progress.
   */
  readBinary(sink: (chunk: Buffer) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(new Error(`timed out after ${timeoutMs} ms without data while reading ${what}`)),
          timeoutMs,
        );
      };
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        this.#binary = undefined;
        this.#waiters = this.#waiters.filter((w) => w !== onClose);
        if (err) reject(err);
        else resolve();
      };
      const feed = (chunk: Buffer) => {
        arm();
        try {
          if (sink(chunk)) finish();
        } catch (err) {
          finish(err);
        }
      };
      const onClose = () => {
        if (this.#closed && this.#binary) finish(new Error(`${this.#closed.message} while reading ${what}`));
        else if (this.#binary) this.#waiters.push(onClose);
      };
      arm();
      this.#binary = feed;
      this.#waiters.push(onClose);
      if (this.#text.length > 0) {
        const early = Buffer.from(this.#text, 'latin1');
        this.#text = '';
        feed(early);
      }
      onClose();
    });
  }

  /** Writes and waits until the socket accepted the bytes (backpressure). */
  write(data: Uint8Array | string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(this.#closed.message));
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Writes pieces, keeping at most ~8 MiB in flight. */
  async writeAll(
    pieces: Iterable<Uint8Array>,
    transform?: (piece: Uint8Array, offset: number) => Uint8Array,
  ): Promise<number> {
    let offset = 0;
    let inFlight: Promise<void>[] = [];
    let pending = 0;
    for (const raw of pieces) {
      if (this.#closed) throw new Error(`${this.#closed.message} while sending the stream`);
      const p = transform ? transform(raw, offset) : raw;
      offset += p.length;
      pending += p.length;
      const w = this.write(p);
      w.catch(() => {}); // observed by Promise.all below, or superseded by the error thrown above
      inFlight.push(w);
      if (pending >= 8 << 20) {
        await Promise.all(inFlight);
        inFlight = [];
        pending = 0;
      }
    }
    await Promise.all(inFlight);
    return offset;
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroySoon?.();
  }
}
