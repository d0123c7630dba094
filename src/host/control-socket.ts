/**
 * A host's control socket (DESIGN §4): a unix stream socket `/dev/shm/hvkit.<pid>.<start>.ctl`
 * (mode 0600) speaking the call words of the one dispatcher, for tools (`hvkit ctl`).
 *
 * Each connection is a session (lifecycle handles end with it). Requests are served one at a
 * time, in order, each answered by one response frame. A malformed frame (wrong magic, length
 * outside 16..80 bytes or not matching nargs, nargs > MAX_ARGS) is answered `bad_frame` and the
 * connection is closed: past a bad header the framing is lost. A frame cut short by the peer
 * closing is dropped with the connection. Memory stays bounded: the decoder never allocates from a
 * header's numbers (a request is at most 80 bytes), reading pauses while more than
 * MAX_BUFFERED bytes wait, and serving pauses while the peer does not read its responses.
 * Only a FormatError from the frame decoder means bad_frame; any other exception while serving is a
 * defect of hvkit: it is reported (onInternalError), answered internal_error and the connection
 * closed — never passed off as the peer's fault.
 *
 * Connections cannot hoard the socket: one idle (no request under way) for `idleTimeoutMs` is
 * closed, and a request must arrive whole, and its answer be taken by the peer, within
 * `requestTimeoutMs` (the host's own work on it does not count). A connection beyond
 * `maxConnections` is refused with a frame the client decodes as "host busy" (status busy, values
 * [BUSY_REFUSAL, connections]) rather than cut off (which the client saw as EPIPE).
 *
 * The name carries the host's pid and start time, so the hosts' stale cleanup (cleanup.ts, which
 * removes every `hvkit.<pid>.<start>.*` of a dead process) removes the socket of a killed host.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Dispatcher, LocalSession } from '../calls/dispatcher.ts';
import { environmentError, FormatError, isErrno, UsageError } from '../errors.ts';
import { BUSY_REFUSAL, STATUS } from '../formats/callword/constants.ts';
import { decodeRequest, encodeResponse } from '../formats/callword/frame.ts';
import { controlSocketName } from '../shm/host-sockets.ts';
import type { HostIdentity } from '../shm/region-names.ts';
import { SHM_DIR } from '../shm/shm-file.ts';
import { checkUnixPath } from './migration/endpoint.ts';

/** Bytes of unread input a connection may hold before reading pauses. */
export const MAX_BUFFERED = 64 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Default time a connection may stay without a request under way before it is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Default time a request may take to arrive whole, and its answer to be taken by the peer. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long a refused connection is kept open (reading and discarding) so the refusal is read. */
const REFUSAL_GRACE_MS = 2000;

export interface ControlSocketOptions {
  /** Directory of the socket (default /dev/shm; tests may use another). */
  dir?: string;
  /** Connections served at once; more are refused on arrival with a busy frame (default 64). */
  maxConnections?: number;
  /** Milliseconds a connection may stay without a request under way (default DEFAULT_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** Milliseconds for a request to arrive whole and its answer to be taken (default DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** Told about defects met while serving (answered internal_error); default: a line on stderr. */
  onInternalError?: (what: string, error: unknown) => void;
  /** Tests: the request decoder (default decodeRequest). */
  decode?: typeof decodeRequest;
}

interface ConnectionLimits {
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  onInternalError: (what: string, error: unknown) => void;
  decode: typeof decodeRequest;
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new UsageError(`${name} must be a positive number of ms (got ${value})`);
  return value;
}

export class ControlSocket {
  readonly path: string;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #refused = new Set<Socket>();
  readonly #maxConnections: number;
  readonly #limits: ConnectionLimits;
  #closing: Promise<void> | undefined;

  private constructor(path: string, server: Server, maxConnections: number, limits: ConnectionLimits) {
    this.path = path;
    this.#server = server;
    this.#maxConnections = maxConnections;
    this.#limits = limits;
  }

  /** Listens on the host's socket path; refuses when something already exists there. */
  static async listen(
    host: HostIdentity,
    dispatcher: Dispatcher,
    options: ControlSocketOptions = {},
  ): Promise<ControlSocket> {
    const path = join(options.dir ?? SHM_DIR, controlSocketName(host));
    checkUnixPath(path);
    if (existsSync(path)) throw new UsageError(`${path} already exists: another control socket of this host?`);
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new UsageError(`maxConnections must be a positive integer (got ${maxConnections})`);
    }
    const limits: ConnectionLimits = {
      idleTimeoutMs: positiveMs('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
      requestTimeoutMs: positiveMs('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
      onInternalError:
        options.onInternalError ??
        ((what, e) => process.stderr.write(`hvkit host: control socket: internal error ${what}: ${String(e)}\n`)),
      decode: options.decode ?? decodeRequest,
    };
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false });
    const cs = new ControlSocket(path, server, maxConnections, limits);
    server.on('connection', (socket) => cs.#accept(socket, dispatcher));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(environmentError(path, err)));
      // The socket is created by bind() inside listen(): a umask of 0177 makes it 0600 from birth.
      const umask = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    try {
      chmodSync(path, 0o600);
    } catch (err) {
      await cs.close();
      throw environmentError(path, err);
    }
    return cs;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** Stops accepting, drops every connection (ending their sessions) and removes the socket. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const c of this.#connections) c.destroy();
      for (const s of this.#refused) s.destroy();
      try {
        unlinkSync(this.path);
      } catch (e) {
        // Already gone (server.close unlinks on some platforms); anything else is worth seeing.
        if (!isErrno(e, 'ENOENT')) this.#limits.onInternalError(`removing ${this.path}`, e);
      }
    });
    return this.#closing;
  }

  #accept(socket: Socket, dispatcher: Dispatcher): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      this.#refuse(socket);
      return;
    }
    const c = new Connection(socket, dispatcher, this.#limits, () => this.#connections.delete(c));
    this.#connections.add(c);
  }

  /**
   * Answers a connection over the limit with the busy refusal and closes it. Its input is read and
   * discarded for a grace period: closing on unread input would reset the connection and the
   * client would see EPIPE/ECONNRESET instead of the refusal.
   */
  #refuse(socket: Socket): void {
    this.#refused.add(socket);
    socket.on('error', () => {
      // A client that went away first: nothing to tell it.
    });
    socket.on('data', () => {});
    const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
    socket.on('close', () => {
      clearTimeout(timer);
      this.#refused.delete(socket);
    });
    socket.end(encodeResponse(STATUS.busy, [BUSY_REFUSAL, BigInt(this.#connections.size)]));
  }
}

class Connection {
  readonly #socket: Socket;
  readonly #dispatcher: Dispatcher;
  readonly #limits: ConnectionLimits;
  readonly #session = new LocalSession();
  #buf: Buffer = Buffer.alloc(0);
  #serving = false;
  /** The dispatcher is working on a request: the host's time, not the peer's. */
  #dispatching = false;
  /** An answer waits for the peer to read it. */
  #draining = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /**
   * When what the peer owes (the rest of a request, or reading an answer) must be done by: set
   * when the debt starts and not moved by later bytes, so a peer dripping one byte at a time
   * cannot stretch one request past requestTimeoutMs.
   */
  #owedBy: number | undefined;

  constructor(socket: Socket, dispatcher: Dispatcher, limits: ConnectionLimits, onClose: () => void) {
    this.#socket = socket;
    this.#dispatcher = dispatcher;
    this.#limits = limits;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      if (this.#buf.length > MAX_BUFFERED) socket.pause();
      this.#rearm();
      this.#serve().catch((e: unknown) => this.#internal('serving a request', e));
    });
    socket.on('error', () => {
      // A peer that vanished: 'close' follows and ends the session.
    });
    socket.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#timer);
      this.#buf = Buffer.alloc(0);
      this.#session.close();
      onClose();
    });
    // A connection that never sends anything is idle from the start.
    this.#rearm();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /**
   * One deadline at a time: while the peer owes us something (the rest of a request, or reading
   * an answer) the request deadline, which destroys the connection; while nothing is under way
   * the idle timeout, which closes it. None while the dispatcher works.
   */
  #rearm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    const owed = this.#draining || this.#buf.length > 0;
    if (!owed) this.#owedBy = undefined;
    if (this.#dispatching) {
      // The host's own time: the debt's clock starts again once the answer is sent.
      this.#owedBy = undefined;
      return;
    }
    if (!owed) {
      this.#timer = setTimeout(() => this.#end(), this.#limits.idleTimeoutMs);
      return;
    }
    this.#owedBy ??= Date.now() + this.#limits.requestTimeoutMs;
    this.#timer = setTimeout(() => this.#socket.destroy(), Math.max(0, this.#owedBy - Date.now()));
  }

  /** A defect met while serving: reported, answered internal_error, connection closed. */
  #internal(what: string, error: unknown): void {
    this.#limits.onInternalError(what, error);
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#buf = Buffer.alloc(0);
    this.#end(encodeResponse(STATUS.internalError, []));
  }

  /**
   * Ends the connection (after `last`, if given). A peer that does not close its side in turn is
   * destroyed after the request deadline: an ended connection still counts against the limit.
   */
  #end(last?: Buffer): void {
    if (last) this.#socket.end(last);
    else this.#socket.end();
    setTimeout(() => this.#socket.destroy(), this.#limits.requestTimeoutMs).unref();
  }

  async #serve(): Promise<void> {
    if (this.#serving) return;
    this.#serving = true;
    try {
      while (!this.#closed) {
        let decoded: ReturnType<typeof decodeRequest>;
        try {
          decoded = this.#limits.decode(this.#buf);
        } catch (e) {
          // Only the decoder's verdict on the bytes is the peer's fault; anything else is ours.
          if (!(e instanceof FormatError)) throw e;
          this.#end(encodeResponse(STATUS.badFrame, []));
          this.#closed = true;
          clearTimeout(this.#timer);
          this.#buf = Buffer.alloc(0);
          return;
        }
        if (decoded.kind === 'need') break;
        // Copy the rest so a large chunk is not kept alive by a small tail.
        this.#buf = Buffer.from(this.#buf.subarray(decoded.size));
        const { word, args } = decoded.frame;
        this.#dispatching = true;
        this.#rearm();
        let outcome: Awaited<ReturnType<Dispatcher['dispatch']>>;
        try {
          outcome = await this.#dispatcher.dispatch(word, args, {
            caller: { kind: 'tool' },
            session: this.#session,
          });
        } finally {
          this.#dispatching = false;
        }
        if (this.#closed) return;
        if (!this.#socket.write(encodeResponse(outcome.status, outcome.values))) {
          this.#draining = true;
          this.#rearm();
          await new Promise<void>((resolve) => {
            const done = () => {
              this.#socket.off('drain', done);
              this.#socket.off('close', done);
              resolve();
            };
            this.#socket.on('drain', done);
            this.#socket.on('close', done);
          });
          this.#draining = false;
        }
      }
    } finally {
      this.#serving = false;
    }
    this.#rearm();
    if (!this.#closed && this.#buf.length <= MAX_BUFFERED) this.#socket.resume();
  }
}
