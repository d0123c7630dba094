/**
 * `hvkit export`'s HTTP endpoint (node:http): GET /metrics answers with the pending shared
 * collection (collector.ts) in the format the Accept header asks for (negotiate.ts), HEAD the
 * same without a body; `/` says where the metrics are; anything else is 404, any other method
 * 405. A scrape refused because too many wait, or whose host sample failed, gets 503 with one
 * line saying why.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { environmentError, HvkitError, UsageError } from '../../errors.ts';
import { negotiate } from '../../formats/exposition/negotiate.ts';
import { PROTOBUF_TYPE } from '../../formats/exposition/protobuf.ts';
import { OPENMETRICS_TEXT_TYPE, PROMETHEUS_TEXT_TYPE } from '../../formats/exposition/text.ts';
import type { Endpoint } from '../../host/migration/endpoint.ts';
import { BUSY, type ExpositionCollector } from './collector.ts';

export const DEFAULT_LISTEN = '127.0.0.1:9465';

const CONTENT_TYPES = { text: PROMETHEUS_TEXT_TYPE, openmetrics: OPENMETRICS_TEXT_TYPE, protobuf: PROTOBUF_TYPE };

export interface ExportServer {
  /** e.g. http://127.0.0.1:9465/metrics */
  url: string;
  /** e.g. http://127.0.0.1:9465/ */
  origin: string;
  port: number;
  close(): Promise<void>;
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
  res.end(`${text}\n`);
}

async function serveMetrics(collector: ExpositionCollector, req: IncomingMessage, res: ServerResponse) {
  const pending = collector.collect();
  if (pending === BUSY) {
    plain(res, 503, 'hvkit export: too many scrapes are waiting; try again', { 'retry-after': '1' });
    return;
  }
  let collection: Awaited<typeof pending>;
  try {
    collection = await pending;
  } catch (err) {
    if (!(err instanceof HvkitError)) throw err;
    plain(res, 503, `hvkit export: the host sample failed: ${err.message}`);
    return;
  }
  const format = negotiate(req.headers.accept);
  const body = collection.encode(format);
  res.writeHead(200, { 'content-type': CONTENT_TYPES[format], 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * More routes on the same endpoint (the web view): answers a GET or HEAD it knows and returns
 * true, or returns false and the metrics routes answer.
 */
export type ExtraRoutes = (path: string, req: IncomingMessage, res: ServerResponse) => boolean;

function handler(collector: ExpositionCollector, extra: ExtraRoutes | undefined) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'hvkit export: only GET and HEAD', { allow: 'GET, HEAD' });
      return;
    }
    if (path !== '/metrics' && extra?.(path, req, res)) return;
    if (path === '/metrics') {
      void serveMetrics(collector, req, res);
      return;
    }
    if (path === '/') {
      plain(res, 200, 'hvkit export: metrics of every KVM VM on this host at /metrics');
      return;
    }
    plain(res, 404, 'hvkit export: not found; the metrics are at /metrics');
  };
}

/** Listens on a TCP endpoint; rejects with an EnvironmentError (address in use, not permitted …). */
export async function startExportServer(
  collector: ExpositionCollector,
  endpoint: Endpoint,
  extra?: ExtraRoutes,
): Promise<ExportServer> {
  if (endpoint.kind !== 'tcp') throw new UsageError('--listen: Prometheus scrapes over TCP: give host:port');
  const server: Server = createServer(handler(collector, extra));
  // Scrapes are short; a client that stalls must not hold a socket for long.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(environmentError(`--listen ${endpoint.host}:${endpoint.port}`, err));
    };
    server.once('error', onError);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/metrics`,
    origin: `http://${host}:${address.port}/`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
