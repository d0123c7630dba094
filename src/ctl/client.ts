/**
 * The tool side of a host's control socket: connect, send call words, read the answers in order.
 * A response that breaks the frame rules, or the host closing the connection, fails every call
 * still waiting (a CtlConnectionError) — the client never guesses.
 */
import { connect, type Socket } from 'node:net';
import { EnvironmentError, errnoText, FormatError, UsageError } from '../errors.ts';
import { BUSY_REFUSAL, STATUS } from '../formats/callword/constants.ts';
import { decodeResponse, encodeRequest, type ResponseFrame } from '../formats/callword/frame.ts';
import { findControlSockets } from '../shm/host-sockets.ts';

export type CallResult = ResponseFrame;

/** The connection to the host broke (closed, reset, or answered something that is not a frame). */
export class CtlConnectionError extends EnvironmentError {
  override readonly name = 'CtlConnectionError';
}

interface Waiting {
  resolve: (r: CallResult) => void;
  reject: (e: Error) => void;
}

export class CtlClient {
  readonly path: string;
  readonly #socket: Socket;
  readonly #waiting: Waiting[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #failure: Error | undefined;

  private constructor(path: string, socket: Socket) {
    this.path = path;
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      this.#fail(new CtlConnectionError(`control socket ${path}: ${e.code ? errnoText(e.code) : e.message}`)),
    );
    socket.on('close', () =>
      this.#fail(new CtlConnectionError(`control socket ${path}: the host closed the connection`)),
    );
  }

  static connect(path: string): Promise<CtlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const onError = (e: NodeJS.ErrnoException) => {
        reject(new CtlConnectionError(`cannot connect to ${path}: ${e.code ? errnoText(e.code) : e.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new CtlClient(path, socket));
      });
    });
  }

  /** Sends one call; resolves with its status and values (a failing status is not an exception). */
  call(word: number, args: readonly bigint[] = []): Promise<CallResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const frame = encodeRequest(word, args);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.write(frame);
    });
  }

  close(): void {
    this.#fail(new CtlConnectionError('the client closed the connection'));
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      let d: ReturnType<typeof decodeResponse>;
      try {
        d = decodeResponse(this.#buf);
      } catch (e) {
        // Only the decoder's refusal means a broken frame; anything else is a defect and goes on.
        if (!(e instanceof FormatError)) throw e;
        this.#fail(new CtlConnectionError(`control socket ${this.path}: ${e.message}`));
        return;
      }
      if (d.kind === 'need') return;
      this.#buf = this.#buf.subarray(d.size);
      if (isBusyRefusal(d.frame)) {
        const n = d.frame.values[1];
        this.#fail(new CtlConnectionError(`host busy: ${n} connections, the most it serves at once; try again later`));
        return;
      }
      const w = this.#waiting.shift();
      if (!w) {
        this.#fail(new CtlConnectionError(`control socket ${this.path}: a response nobody asked for`));
        return;
      }
      w.resolve(d.frame);
    }
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    this.#socket.destroy();
  }
}

/** The frame a host sends a connection it refuses (over its connection limit), before closing it. */
function isBusyRefusal(frame: ResponseFrame): boolean {
  return frame.status === STATUS.busy && frame.values.length === 2 && frame.values[0] === BUSY_REFUSAL;
}

/** The control socket to use: the one of `pid`, or the only running host's. */
export function resolveHostSocket(options: { host?: number; dir?: string } = {}): string {
  const sockets = findControlSockets(options.dir);
  if (options.host !== undefined) {
    const s = sockets.find((x) => x.pid === options.host);
    if (!s) throw new EnvironmentError(`host ${options.host} has no control socket (is it an hvkit host?)`);
    return s.path;
  }
  if (sockets.length === 0) throw new EnvironmentError('no running hvkit host (start one with `hvkit host`)');
  if (sockets.length > 1) {
    throw new UsageError(
      `${sockets.length} hosts are running (${sockets.map((s) => s.pid).join(', ')}): pick one with --host PID`,
    );
  }
  return sockets[0]!.path;
}
