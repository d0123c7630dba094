/**
 * The stream endpoint of a host: a listening unix or TCP socket that receives migrations, and —
 * on the host's local unix socket only — serves the stream requests of `hvkit ctl save | restore
 * | migrate` (one request line, one JSON answer line).
 *
 *   MIGRATE-IN                     an incoming migration (protocol.ts)
 *   SAVE <domid> <paused 0|1> [<force 0|1>] <absolute file path>
 *   RESTORE <paused 0|1> <absolute file path>
 *   MIGRATE <domid> <socket path or host:port>
 *
 * An incoming migration: the whole stream is verified before anything is created; the domain is
 * created paused, confirmed READY, started on GO, confirmed RUNNING. Any failure or timeout
 * before GO destroys what was created and answers FAIL. GO commits the source (it keeps its copy
 * paused from then on), so after GO this host keeps the domain even when it cannot confirm.
 *
 * What a sender can make this host hold is bounded: one incoming migration per host at a time
 * (others are answered FAIL), guest RAM up to the host's limit (Host.limits), and a whole stream must arrive
 * within `receiveTimeoutMs` besides the per-wait idle timeout. There is no authentication: a TCP
 * listener must be on loopback or a trusted network, since anyone who reaches it can hand this
 * host a domain to run.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { describeError, type ErrorKind, environmentError, errorCode, kindOf, UsageError } from '../../errors.ts';
import { newestStreamVersion, readableVersions } from '../../formats/stream/abi.ts';
import { StreamReader } from '../../formats/stream/reader.ts';
import { peerText } from '../../peer-text.ts';
import { hostPrefix } from '../../shm/region-names.ts';
import { SHM_DIR } from '../../shm/shm-file.ts';
import type { Host } from '../host.ts';
import { asLimitError } from '../limits.ts';
import { checkUnixPath, describeEndpoint, type Endpoint, parseEndpoint } from './endpoint.ts';
import type { PoolStreamHooks } from './hooks.ts';
import { destroyAfterFailure, LeftoverDomainError } from './leftover.ts';
import { migrate } from './migrate.ts';
import { checkRequestPath, helloLine, MIGRATE_IN, oneLine, splitLine } from './protocol.ts';
import { restoreDomain, restoreImage, saveDomain } from './save-restore.ts';
import { MAX_LINE, Wire, WireError } from './wire.ts';

export const STREAM_SOCKET_SUFFIX = 'stream';

/** `/dev/shm/hvkit.<pid>.<start>.stream`: the host's local stream socket (mode 0600). */
export function streamSocketPath(host: Host, dir = SHM_DIR): string {
  return join(dir, `${hostPrefix(host.identity)}.${STREAM_SOCKET_SUFFIX}`);
}

/** Default of ReceiverOptions.maxConnections: each connection waits at most the peer timeout idle. */
export const DEFAULT_STREAM_CONNECTIONS = 16;
/** Default time a whole incoming stream may take, in ms. */
export const DEFAULT_RECEIVE_DEADLINE_MS = 10 * 60_000;

export interface ReceiverOptions {
  pools?: PoolStreamHooks;
  /** Waits for the peer, and writes the peer does not take (default 10 s); also for MIGRATE requests. */
  timeoutMs?: number;
  /** For MIGRATE requests: how long the destination may take to verify (MigrateOptions.verifyTimeoutMs). */
  verifyTimeoutMs?: number;
  /**
   * Tests: accept less guest RAM from an incoming migration than the host's limit (never more).
   * The limit itself is the host's (Host.limits, `hvkit host --max-guest-memory`).
   */
  maxMemoryMiB?: number;
  /** How long receiving a whole stream may take (default DEFAULT_RECEIVE_DEADLINE_MS). */
  receiveTimeoutMs?: number;
  /** Connections served at once; more are answered `FAIL host busy` and closed (default 16). */
  maxConnections?: number;
  /** Serve SAVE/RESTORE/MIGRATE requests too (default: on unix sockets only). */
  requests?: boolean;
  /** Tests: called after each chunk of an incoming stream with the bytes received so far. */
  onReceive?: (bytes: number) => void;
  /** Tests: refuse every incoming migration after verifying it. */
  refuse?: string;
  /** Told about each finished incoming migration or request (logs). */
  onLog?: (line: string) => void;
}

export interface StreamListener {
  readonly endpoint: Endpoint;
  /** "path" or "host:port" actually bound (TCP port 0 → the chosen port). */
  readonly address: string;
  close(): Promise<void>;
}

/** Every log line goes out sanitised: most of them quote what a peer sent (peer-text.ts). */
function logLine(options: ReceiverOptions, line: string): void {
  options.onLog?.(peerText(line, 2000));
}

/** Hosts receiving a migration right now: one at a time each. */
const receiving = new WeakSet<Host>();

async function receive(host: Host, wire: Wire, options: ReceiverOptions): Promise<void> {
  if (receiving.has(host)) {
    logLine(options, 'migration in refused: another one is in progress');
    await wire.write('FAIL this host is receiving another migration; try again later\n');
    return;
  }
  receiving.add(host);
  try {
    await receiveOne(host, wire, options);
  } finally {
    receiving.delete(host);
  }
}

async function receiveOne(host: Host, wire: Wire, options: ReceiverOptions): Promise<void> {
  const timeout = options.timeoutMs ?? 10_000;
  // The host's one guest-memory limit, applied at the stream's header: more is never read.
  const maxMemoryMiB = Math.min(options.maxMemoryMiB ?? Number.POSITIVE_INFINITY, host.limits.maxGuestMemoryMiB);
  const reader = new StreamReader({ maxMemoryMiB });
  let created: number | undefined;
  let committed = false;
  try {
    await wire.write(helloLine(readableVersions(newestStreamVersion())));
    await wire.readBinary(
      (chunk) => {
        try {
          reader.push(chunk);
        } catch (err) {
          throw asLimitError(err, host.limits);
        }
        options.onReceive?.(reader.offset);
        return reader.ended;
      },
      timeout,
      'the migration stream',
      options.receiveTimeoutMs ?? DEFAULT_RECEIVE_DEADLINE_MS,
    );
    const image = reader.finish();
    if (options.refuse) throw new UsageError(options.refuse);
    const restored = await restoreImage(host, image, {
      paused: true,
      ...(options.pools ? { pools: options.pools } : {}),
    });
    created = restored.domain.domid;
    await wire.write(`READY ${created}\n`);
    const go = await wire.readLine(timeout, 'GO');
    if (go !== 'GO') throw new UsageError(`expected GO, got ${oneLine(go)}`);
    // Committed: the source keeps its copy paused from here on, so this copy is the guest now.
    committed = true;
    if (!image.options.paused) await host.unpause(created);
    await wire.write(`RUNNING ${created}\n`);
    logLine(options, `migration in: domain ${created} (${image.domain.name}) running`);
  } catch (err) {
    const why = (err as Error).message;
    if (committed) {
      logLine(options, `migration in: domain ${created} kept after GO, unconfirmed: ${why}`);
      await wire.write(`FAIL domain ${created} kept after GO: ${oneLine(why)}\n`).catch(() => {});
      return;
    }
    let failure = why;
    if (created !== undefined) {
      // The source is told (and the log says) when the domain made here could not be destroyed.
      failure = await destroyAfterFailure(host, created, 'migration in', err).catch((e: Error) =>
        e instanceof LeftoverDomainError ? e.message : why,
      );
    }
    logLine(options, `migration in failed: ${failure}`);
    await wire.write(`FAIL ${oneLine(failure)}\n`).catch(() => {});
  }
}

async function request(host: Host, word: string, rest: string, options: ReceiverOptions): Promise<unknown> {
  const poolOpt = options.pools ? { pools: options.pools } : {};
  // A newline ended the line already; any other control character means a path was cut or mangled.
  checkRequestPath(rest, `${word} request`);
  if (word === 'SAVE') {
    const m = /^(\d+) ([01])(?: ([01]))? (\/.*)$/.exec(rest);
    if (!m || !isAbsolute(m[4]!)) throw new UsageError('SAVE <domid> <0|1> [<force 0|1>] <absolute path>');
    return saveDomain(host, Number(m[1]), m[4]!, { leavePaused: m[2] === '1', force: m[3] === '1', ...poolOpt });
  }
  if (word === 'RESTORE') {
    const m = /^([01]) (.+)$/.exec(rest);
    if (!m || !isAbsolute(m[2]!)) throw new UsageError('RESTORE <0|1> <absolute path>');
    const r = await restoreDomain(host, m[2]!, { ...(m[1] === '1' ? { paused: true } : {}), ...poolOpt });
    return { ...r, domain: { ...r.domain, uniqueId: r.domain.uniqueId.toString() } };
  }
  if (word === 'MIGRATE') {
    const m = /^(\d+) (.+)$/.exec(rest);
    if (!m) throw new UsageError('MIGRATE <domid> <socket path or host:port>');
    return migrate(host, Number(m[1]), m[2]!, {
      ...poolOpt,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.verifyTimeoutMs === undefined ? {} : { verifyTimeoutMs: options.verifyTimeoutMs }),
    });
  }
  throw new UsageError(`unknown stream request ${JSON.stringify(oneLine(word))}`);
}

/** Strings and lists in an answer that is too long are cut to these. */
const ANSWER_STRING_MAX = 256;
const ANSWER_LIST_MAX = 8;

function shrink(value: unknown): unknown {
  if (typeof value === 'string') return value.length > ANSWER_STRING_MAX ? peerText(value, ANSWER_STRING_MAX) : value;
  if (Array.isArray(value)) {
    const kept = value.slice(0, ANSWER_LIST_MAX).map(shrink);
    return value.length > ANSWER_LIST_MAX ? [...kept, `… and ${value.length - ANSWER_LIST_MAX} more`] : kept;
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shrink(v)]));
  }
  return value;
}

/**
 * One answer line of a stream request: JSON with `ok` first, at most MAX_LINE bytes with its
 * newline, so the client can always read it. The size of a result can depend on the input (a
 * stream's optional records, a long path), so a result that would not fit is cut (long strings
 * and lists shortened, `truncated: true`) — never dropped: the request did what the answer says.
 */
export function answerLine(
  answer: { ok: true; result: unknown } | { ok: false; kind?: ErrorKind; error: string },
): string {
  const fits = (line: string) => Buffer.byteLength(line) <= MAX_LINE;
  if (!answer.ok) {
    const kind = answer.kind === undefined ? {} : { kind: answer.kind };
    const line = `${JSON.stringify({ ok: false, ...kind, error: oneLine(answer.error) })}\n`;
    if (fits(line)) return line;
    return `${JSON.stringify({ ok: false, ...kind, error: peerText(answer.error, ANSWER_STRING_MAX) })}\n`;
  }
  const line = `${JSON.stringify({ ok: true, result: answer.result })}\n`;
  if (fits(line)) return line;
  const cut = `${JSON.stringify({ ok: true, truncated: true, result: shrink(answer.result) })}\n`;
  return fits(cut) ? cut : `${JSON.stringify({ ok: true, truncated: true })}\n`;
}

async function serve(host: Host, socket: Socket, options: ReceiverOptions, requests: boolean): Promise<void> {
  const timeout = options.timeoutMs ?? 10_000;
  const wire = new Wire(socket, { writeStallMs: timeout });
  try {
    const line = await wire.readLine(timeout, 'a request');
    if (line === MIGRATE_IN) return await receive(host, wire, options);
    const [word, rest] = splitLine(line);
    if (!requests) {
      await wire.write(`FAIL this endpoint only receives migrations\n`);
      return;
    }
    let answer: string;
    try {
      const result = await request(host, word, rest, options);
      logLine(options, `${word} ${rest}: ok`);
      answer = answerLine({ ok: true, result });
    } catch (err) {
      // The kind travels with the message, so the client exits as it would for a local error.
      const error = describeError(err);
      logLine(options, `${word} ${rest}: ${error}`);
      answer = answerLine({ ok: false, kind: kindOf(err), error });
    }
    await wire.write(answer);
  } catch (err) {
    // The peer went away or timed out: nothing was created that is not cleaned up above.
    // Anything else is a defect of this host, reported rather than passed off as the peer's.
    if (!(err instanceof WireError)) logLine(options, `internal error serving a stream connection: ${String(err)}`);
  } finally {
    wire.close();
  }
}

/**
 * Makes `path` free for a new unix socket: nothing there, or a socket nobody listens on (left by a
 * process that died), which is removed. Anything else is refused, never unlinked.
 */
export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new UsageError(`${path} exists and is not a socket: refusing to replace it`);
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(undefined);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
  });
  if (code === undefined) throw new UsageError(`${path} is in use: a process is listening there`);
  if (code === 'ENOENT') return;
  if (code !== 'ECONNREFUSED') throw new UsageError(`${path} exists and cannot be checked (${code}): refusing`);
  unlinkSync(path);
}

/**
 * Listens at `at` (unix path or host:port; TCP port 0 picks one). A TCP address must be loopback
 * or a trusted network: incoming migrations are not authenticated. Rejects — never throws, never
 * leaves a socket behind — when the address is malformed or cannot be bound; the error names the
 * address as given.
 */
export async function listenForStreams(
  host: Host,
  at: string | Endpoint,
  options: ReceiverOptions = {},
): Promise<StreamListener> {
  const endpoint = typeof at === 'string' ? parseEndpoint(at, { listening: true }) : at;
  if (endpoint.kind === 'unix') checkUnixPath(endpoint.path);
  const what = describeEndpoint(endpoint);
  const requests = options.requests ?? endpoint.kind === 'unix';
  const sockets = new Set<Socket>();
  const maxConnections = options.maxConnections ?? DEFAULT_STREAM_CONNECTIONS;
  const server: Server = createServer((socket) => {
    if (sockets.size >= maxConnections) {
      // Refused with a line both a migration source and `hvkit ctl` show, not a bare reset.
      socket.on('error', () => {});
      socket.resume();
      socket.end(`FAIL host busy: ${sockets.size} stream connections, the most it serves at once; try again later\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    void serve(host, socket, options, requests);
  });
  const close = () =>
    new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
      if (endpoint.kind === 'unix' && existsSync(endpoint.path)) {
        try {
          unlinkSync(endpoint.path);
        } catch (err) {
          // Someone removed it meanwhile: that is the state closing wants.
          if (errorCode(err) !== 'ENOENT') throw environmentError(what, err);
        }
      }
    });
  if (endpoint.kind === 'unix') await claimSocketPath(endpoint.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(environmentError(what, err)));
    if (endpoint.kind === 'unix') server.listen(endpoint.path, resolve);
    else server.listen(endpoint.port, endpoint.host, resolve);
  });
  let address = what;
  try {
    if (endpoint.kind === 'unix') chmodSync(endpoint.path, 0o600);
    else {
      const a = server.address();
      if (a && typeof a === 'object') address = describeEndpoint({ ...endpoint, port: a.port });
    }
  } catch (err) {
    await close();
    throw environmentError(what, err);
  }
  return { endpoint, address, close };
}

/** The host's local stream socket (streamSocketPath), serving requests and migrations. */
export function listenLocalStreams(host: Host, options: ReceiverOptions = {}): Promise<StreamListener> {
  return listenForStreams(host, { kind: 'unix', path: streamSocketPath(host) }, options);
}
