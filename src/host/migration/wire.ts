/**
 * The socket side of migration and of the stream control requests: text lines in one direction
 * (bounded in length), the stream's bytes in the other, each wait with a deadline, and any
 * close, error or timeout turned into a rejection naming what was awaited. Writes have a deadline
 * too: a peer that stops reading without closing would otherwise hold the writer forever.
 */
import type { Socket } from 'node:net';
import { EnvironmentError, errnoText } from '../../errors.ts';

/** The peer closed, reset, stalled, timed out or broke the line rules: the environment, not a defect. */
export class WireError extends EnvironmentError {
  override readonly name = 'WireError';
}

export const MAX_LINE = 4096;

/** Default for how long writes may go without the peer taking any bytes. */
/** How long a closing wire keeps draining a peer that is still writing. */
export const CLOSE_GRACE_MS = 10_000;
export const WRITE_STALL_MS = 10_000;

export interface WireOptions {
  /** Writes outstanding this long without any of them completing fail the wire (default 10 s). */
  writeStallMs?: number;
}

export class Wire {
  readonly #socket: Socket;
  readonly #writeStallMs: number;
  #text = '';
  #binary: ((chunk: Buffer) => void) | undefined;
  #waiters: (() => void)[] = [];
  #closed: Error | undefined;
  #pendingWrites = 0;
  #stall: NodeJS.Timeout | undefined;

  constructor(socket: Socket, options: WireOptions = {}) {
    this.#socket = socket;
    this.#writeStallMs = options.writeStallMs ?? WRITE_STALL_MS;
    socket.on('data', (chunk: Buffer) => {
      if (this.#binary) this.#binary(chunk);
      else {
        this.#text += chunk.toString('latin1');
        if (this.#text.length > MAX_LINE && !this.#text.includes('\n'))
          this.#fail(new WireError('peer sent an overlong line'));
      }
      this.#wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.#fail(err.code ? new WireError(`the connection failed: ${errnoText(err.code)}`) : err),
    );
    socket.on('close', () => this.#fail(new WireError('the peer closed the connection')));
  }

  get socket(): Socket {
    return this.#socket;
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    clearTimeout(this.#stall);
    this.#wake();
  }

  /** Fails every wait and write with `err` and destroys the socket. */
  abort(err: Error): void {
    this.#fail(err);
    this.#socket.destroy();
  }

  /** (Re)starts the no-progress deadline while writes are outstanding. */
  #armStall(): void {
    clearTimeout(this.#stall);
    this.#stall = undefined;
    if (this.#pendingWrites === 0 || this.#closed) return;
    this.#stall = setTimeout(
      () => this.abort(new WireError(`the peer took no data for ${this.#writeStallMs} ms`)),
      this.#writeStallMs,
    );
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The next line (without its newline). */
  readLine(timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A waiter left behind would take the next line from whoever reads after this.
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new WireError(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        const nl = this.#text.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          const line = this.#text.slice(0, nl);
          this.#text = this.#text.slice(nl + 1);
          resolve(line);
        } else if (this.#closed) {
          clearTimeout(timer);
          reject(new WireError(`${this.#closed.message} while waiting for ${what}`));
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  /**
   * Hands every received byte to `sink` until it returns true (done) or throws; bytes already
   * buffered as text go first. Rejects on close, error, `timeoutMs` without progress, or when the
   * whole read takes longer than `deadlineMs` (if given).
   */
  readBinary(sink: (chunk: Buffer) => boolean, timeoutMs: number, what: string, deadlineMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout;
      const deadline =
        deadlineMs === undefined
          ? undefined
          : setTimeout(() => finish(new WireError(`${what} took longer than ${deadlineMs} ms`)), deadlineMs);
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(new WireError(`timed out after ${timeoutMs} ms without data while reading ${what}`)),
          timeoutMs,
        );
      };
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        clearTimeout(deadline);
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
        if (this.#closed && this.#binary) finish(new WireError(`${this.#closed.message} while reading ${what}`));
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

  /**
   * Writes and waits until the socket accepted the bytes (backpressure). While writes are
   * outstanding, `writeStallMs` without any completing destroys the socket and rejects them.
   */
  write(data: Uint8Array | string): Promise<void> {
    if (this.#closed) return Promise.reject(new WireError(this.#closed.message));
    return new Promise((resolve, reject) => {
      this.#pendingWrites++;
      if (this.#pendingWrites === 1) this.#armStall();
      this.#socket.write(data, (err) => {
        this.#pendingWrites--;
        this.#armStall();
        // A destroyed socket reports its cut-off writes as done (Node 20) or as ECANCELED (Node 22+):
        // either way the wire's own failure, which says why it was destroyed, wins.
        const failed = this.#closed ?? err;
        if (failed) reject(new WireError(failed.message));
        else resolve();
      });
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
      if (this.#closed) throw new WireError(`${this.#closed.message} while sending the stream`);
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

  /**
   * Half-closes and discards whatever the peer still sends until it closes too (at most
   * `graceMs`): closing with unread data would reset the connection, and a peer still writing
   * (a source whose stream was refused mid-way) would then lose the last line sent to it — the
   * reason it was refused.
   */
  close(graceMs = CLOSE_GRACE_MS): void {
    clearTimeout(this.#stall);
    this.#binary = () => {};
    this.#socket.resume();
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), graceMs);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }
}
