/**
 * The stream endpoint of a host: a listening unix or TCP socket that receives migrations, and —
 * on the host's local unix socket only — serves the stream requests of `hvkit ctl save | restore
 * | migrate` (one request line, one JSON answer line).
 *
 *   MIGRATE-IN                     an incoming migration (protocol.ts)
 *   SAVE <domid> <paused 0|1> <absolute file path>
 *   RESTORE <paused 0|1> <absolute file path>
 *   MIGRATE <domid> <socket path or host:port>
 *
 * An incoming migration: the whole stream is verified before anything is created; the domain is
 * created paused, confirmed READY, started on GO, confirmed RUNNING. Any failure or timeout
 * destroys what was created and answers FAIL.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { newestStreamVersion, readableVersions } from '../../formats/stream/abi.ts';
import { StreamReader } from '../../formats/stream/reader.ts';
import { SHM_DIR } from '../../shm/shm-file.ts';
import type { Host } from '../host.ts';
import { hostPrefix } from '../names.ts';
import { describeEndpoint, type Endpoint, parseEndpoint } from './endpoint.ts';
import type { PoolStreamHooks } from './hooks.ts';
import { migrate } from './migrate.ts';
import { helloLine, MIGRATE_IN, oneLine, splitLine } from './protocol.ts';
import { restoreDomain, restoreImage, saveDomain } from './save-restore.ts';
import { Wire } from './wire.ts';

export const STREAM_SOCKET_SUFFIX = 'stream';

/** `/dev/shm/hvkit.<pid>.<start>.stream`: the host's local stream socket (mode 0600). */
export function streamSocketPath(host: Host, dir = SHM_DIR): string {
  return join(dir, `${hostPrefix(host.identity)}.${STREAM_SOCKET_SUFFIX}`);
}

export interface ReceiverOptions {
  pools?: PoolStreamHooks;
  /** Waits for the peer (default 10 s). */
  timeoutMs?: number;
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

async function receive(host: Host, wire: Wire, options: ReceiverOptions): Promise<void> {
  const timeout = options.timeoutMs ?? 10_000;
  const reader = new StreamReader();
  await wire.write(helloLine(readableVersions(newestStreamVersion())));
  let created: number | undefined;
  try {
    await wire.readBinary(
      (chunk) => {
        reader.push(chunk);
        options.onReceive?.(reader.offset);
        return reader.ended;
      },
      timeout,
      'the migration stream',
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
    if (!image.options.paused) await host.unpause(created);
    await wire.write(`RUNNING ${created}\n`);
    options.onLog?.(`migration in: domain ${created} (${image.domain.name}) running`);
  } catch (err) {
    if (created !== undefined) await host.destroy(created).catch(() => {});
    options.onLog?.(`migration in failed: ${(err as Error).message}`);
    await wire.write(`FAIL ${oneLine((err as Error).message)}\n`).catch(() => {});
  }
}

async function request(host: Host, word: string, rest: string, options: ReceiverOptions): Promise<unknown> {
  const poolOpt = options.pools ? { pools: options.pools } : {};
  if (word === 'SAVE') {
    const m = /^(\d+) ([01]) (.+)$/.exec(rest);
    if (!m || !isAbsolute(m[3]!)) throw new UsageError('SAVE <domid> <0|1> <absolute path>');
    return saveDomain(host, Number(m[1]), m[3]!, { leavePaused: m[2] === '1', ...poolOpt });
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
    return migrate(host, Number(m[1]), m[2]!, poolOpt);
  }
  throw new UsageError(`unknown stream request ${JSON.stringify(oneLine(word))}`);
}

async function serve(host: Host, socket: Socket, options: ReceiverOptions, requests: boolean): Promise<void> {
  const wire = new Wire(socket);
  try {
    const line = await wire.readLine(options.timeoutMs ?? 10_000, 'a request');
    if (line === MIGRATE_IN) return await receive(host, wire, options);
    const [word, rest] = splitLine(line);
    if (!requests) {
      await wire.write(`FAIL this endpoint only receives migrations\n`);
      return;
    }
    try {
      const result = await request(host, word, rest, options);
      options.onLog?.(`${word} ${rest}: ok`);
      await wire.write(`${JSON.stringify({ ok: true, result })}\n`);
    } catch (err) {
      options.onLog?.(`${word} ${rest}: ${(err as Error).message}`);
      await wire.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
    }
  } catch {
    // The peer went away or timed out: nothing was created that is not cleaned up above.
  } finally {
    wire.close();
  }
}

/** Listens at `at` (unix path or host:port; TCP port 0 picks one). */
export function listenForStreams(
  host: Host,
  at: string | Endpoint,
  options: ReceiverOptions = {},
): Promise<StreamListener> {
  const endpoint = typeof at === 'string' ? parseEndpoint(at) : at;
  const requests = options.requests ?? endpoint.kind === 'unix';
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    void serve(host, socket, options, requests);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      let address = describeEndpoint(endpoint);
      if (endpoint.kind === 'unix') chmodSync(endpoint.path, 0o600);
      else {
        const a = server.address();
        if (a && typeof a === 'object') address = `${endpoint.host}:${a.port}`;
      }
      resolve({
        endpoint,
        address,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
            if (endpoint.kind === 'unix' && existsSync(endpoint.path)) {
              try {
                unlinkSync(endpoint.path);
              } catch {}
            }
          }),
      });
    };
    if (endpoint.kind === 'unix') {
      if (existsSync(endpoint.path)) unlinkSync(endpoint.path);
      server.listen(endpoint.path, done);
    } else server.listen(endpoint.port, endpoint.host, done);
  });
}

/** The host's local stream socket (streamSocketPath), serving requests and migrations. */
export function listenLocalStreams(host: Host, options: ReceiverOptions = {}): Promise<StreamListener> {
  return listenForStreams(host, { kind: 'unix', path: streamSocketPath(host) }, options);
}
