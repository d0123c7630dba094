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
 *
 * The name carries the host's pid and start time, so the hosts' stale cleanup (cleanup.ts, which
 * removes every `hvkit.<pid>.<start>.*` of a dead process) removes the socket of a killed host.
 */
import { chmodSync, existsSync, readdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { STATUS } from '../formats/callword/constants.ts';
import { decodeRequest, encodeResponse } from '../formats/callword/frame.ts';
import { type HostIdentity, hostPrefix, parseRegionName } from '../shm/region-names.ts';
import { SHM_DIR } from '../shm/shm-file.ts';
import { type Dispatcher, LocalSession } from './dispatcher.ts';
import { processLiveness } from './proc.ts';

export const CONTROL_SOCKET_SUFFIX = 'ctl';
/** Bytes of unread input a connection may hold before reading pauses. */
export const MAX_BUFFERED = 64 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 64;

export function controlSocketName(host: HostIdentity): string {
  return `${hostPrefix(host)}.${CONTROL_SOCKET_SUFFIX}`;
}

export interface ControlSocketOptions {
  /** Directory of the socket (default /dev/shm; tests may use another). */
  dir?: string;
  /** Connections served at once; more are closed on arrival (default 64). */
  maxConnections?: number;
}

export class ControlSocket {
  readonly path: string;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  #closing: Promise<void> | undefined;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on the host's socket path; refuses when something already exists there. */
  static async listen(
    host: HostIdentity,
    dispatcher: Dispatcher,
    options: ControlSocketOptions = {},
  ): Promise<ControlSocket> {
    const path = join(options.dir ?? SHM_DIR, controlSocketName(host));
    if (existsSync(path)) throw new UsageError(`${path} already exists: another control socket of this host?`);
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false });
    server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const cs = new ControlSocket(path, server);
    server.on('connection', (socket) => cs.#accept(socket, dispatcher));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
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
    chmodSync(path, 0o600);
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
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone (server.close unlinks on some platforms).
      }
    });
    return this.#closing;
  }

  #accept(socket: Socket, dispatcher: Dispatcher): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const c = new Connection(socket, dispatcher, () => this.#connections.delete(c));
    this.#connections.add(c);
  }
}

class Connection {
  readonly #socket: Socket;
  readonly #dispatcher: Dispatcher;
  readonly #session = new LocalSession();
  #buf: Buffer = Buffer.alloc(0);
  #serving = false;
  #closed = false;

  constructor(socket: Socket, dispatcher: Dispatcher, onClose: () => void) {
    this.#socket = socket;
    this.#dispatcher = dispatcher;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      if (this.#buf.length > MAX_BUFFERED) socket.pause();
      void this.#serve();
    });
    socket.on('error', () => {
      // A peer that vanished: 'close' follows and ends the session.
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#buf = Buffer.alloc(0);
      this.#session.close();
      onClose();
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }

  async #serve(): Promise<void> {
    if (this.#serving) return;
    this.#serving = true;
    try {
      while (!this.#closed) {
        let decoded: ReturnType<typeof decodeRequest>;
        try {
          decoded = decodeRequest(this.#buf);
        } catch {
          this.#socket.end(encodeResponse(STATUS.badFrame, []));
          this.#closed = true;
          this.#buf = Buffer.alloc(0);
          return;
        }
        if (decoded.kind === 'need') break;
        // Copy the rest so a large chunk is not kept alive by a small tail.
        this.#buf = Buffer.from(this.#buf.subarray(decoded.size));
        const { word, args } = decoded.frame;
        const outcome = await this.#dispatcher.dispatch(word, args, {
          caller: { kind: 'tool' },
          session: this.#session,
        });
        if (this.#closed) return;
        if (!this.#socket.write(encodeResponse(outcome.status, outcome.values))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.#socket.off('drain', done);
              this.#socket.off('close', done);
              resolve();
            };
            this.#socket.on('drain', done);
            this.#socket.on('close', done);
          });
        }
      }
    } finally {
      this.#serving = false;
    }
    if (!this.#closed && this.#buf.length <= MAX_BUFFERED) this.#socket.resume();
  }
}

export interface RunningHostSocket {
  pid: number;
  startTime: bigint;
  path: string;
}

/** Control sockets under `dir` whose host process is alive, by pid. */
export function findControlSockets(dir = SHM_DIR): RunningHostSocket[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: RunningHostSocket[] = [];
  for (const name of names) {
    const parsed = parseRegionName(name);
    if (parsed?.kind !== 'other' || parsed.rest !== CONTROL_SOCKET_SUFFIX) continue;
    if (processLiveness(parsed.pid, parsed.startTime) === 'dead') continue;
    out.push({ pid: parsed.pid, startTime: parsed.startTime, path: join(dir, name) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
