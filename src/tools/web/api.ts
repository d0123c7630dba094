/**
 * The web view's routes on `hvkit export`'s endpoint: the page and its assets (all served from
 * this repository and node_modules: the page needs no network), and the JSON API the page uses
 * (documented in README.md, "The web view"):
 *   GET /api/vms            every VM with top's identity and rates
 *   GET /api/vms/<key>      one VM's recent points (drill-down charts, heatmaps) and events
 *   GET /api/events         lifecycle events, oldest first
 *   GET /api/events/stream  Server-Sent Events: one `sample` message per host sample
 *   GET /api/abis…          this repository's ABIs (abi-api.ts)
 * Every bigint is a decimal string (serializeJson), as in `hvkit top --json`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HvkitError } from '../../errors.ts';
import { serializeJson } from '../top/json.ts';
import { answerAbi } from './abi-api.ts';
import { serveAsset } from './assets.ts';
import type { SampleUpdate, WebState } from './state.ts';

/** A stream comment this often keeps proxies and idle timers from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** Streams open at once; more are refused (503) rather than each costing a write per sample. */
export const MAX_STREAMS = 32;
/**
 * A client that reads slower than samples come has this much waiting at most; past it the stream
 * is cut (its page reconnects and starts from the latest sample) instead of growing without bound.
 */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, doc: unknown): void {
  const body = Buffer.from(serializeJson(doc, false));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export class WebStreams {
  readonly #open = new Set<ServerResponse>();

  get count(): number {
    return this.#open.size;
  }

  /**
   * An SSE response: the latest sample first (the page renders at once), then one per sample.
   * False when no stream was opened (too many open, or a HEAD request).
   */
  open(state: WebState, req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#open.size >= MAX_STREAMS) {
      sendJson(req, res, 503, { error: `hvkit export: ${MAX_STREAMS} event streams are open already` });
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    if (req.method === 'HEAD') {
      res.end();
      return false;
    }
    const send = (update: SampleUpdate) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        return;
      }
      res.write(`event: sample\ndata: ${serializeJson(update, false)}\n\n`);
    };
    res.write('retry: 2000\n\n');
    if (state.latest) send(state.latest);
    const stop = state.subscribe(send);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#open.add(res);
    res.on('close', () => {
      stop();
      clearInterval(heartbeat);
      this.#open.delete(res);
    });
    return true;
  }

  /** Ends every stream (the exporter stops): each page shows that the host is gone. */
  closeAll(): void {
    for (const res of this.#open) res.end();
    this.#open.clear();
  }
}

/** What the view does around a request: make the state fresh, start sampling for a page. */
export interface WebHooks {
  /** Resolves once the state holds a sample recent enough to answer from. */
  freshen(): Promise<void>;
  /** An event stream was opened. */
  streamOpened(): void;
}

const NO_HOOKS: WebHooks = { freshen: () => Promise.resolve(), streamOpened: () => {} };

/** Answers from the state once it is fresh (the sample a request waits for is at most one collection). */
function answerFresh(hooks: WebHooks, req: IncomingMessage, res: ServerResponse, answer: () => [number, unknown]) {
  hooks.freshen().then(() => {
    const [status, doc] = answer();
    sendJson(req, res, status, doc);
  });
}

/** The router for startExportServer's extra routes. */
export function webRoutes(state: WebState, streams: WebStreams, hooks: WebHooks = NO_HOOKS) {
  return (path: string, req: IncomingMessage, res: ServerResponse): boolean => {
    if (path === '/api/vms') {
      answerFresh(hooks, req, res, () => [200, state.vms()]);
      return true;
    }
    if (path.startsWith('/api/vms/')) {
      let key: string;
      try {
        key = decodeURIComponent(path.slice('/api/vms/'.length));
      } catch (err) {
        if (!(err instanceof URIError)) throw err;
        sendJson(req, res, 400, { error: 'the VM key is not valid percent-encoding' });
        return true;
      }
      answerFresh(hooks, req, res, () => {
        const doc = state.vm(key);
        return doc ? [200, doc] : [404, { error: `no VM ${key} on the host now` }];
      });
      return true;
    }
    if (path === '/api/events') {
      answerFresh(hooks, req, res, () => [200, state.events()]);
      return true;
    }
    if (path === '/api/events/stream') {
      if (streams.open(state, req, res)) hooks.streamOpened();
      return true;
    }
    if (path === '/api/abis' || path.startsWith('/api/abis/')) {
      answerAbi(path).then(
        (answer) => sendJson(req, res, answer!.status, answer!.doc),
        (err: unknown) => {
          // An ABI that cannot be read is the tree's problem, said as such; a defect is rethrown.
          if (!(err instanceof HvkitError)) throw err;
          sendJson(req, res, 500, { error: err.message });
        },
      );
      return true;
    }
    if (path.startsWith('/api/')) {
      sendJson(req, res, 404, { error: `no API route ${path}` });
      return true;
    }
    return serveAsset(path, req, res);
  };
}
