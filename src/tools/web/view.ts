/**
 * The web view beside `hvkit export`'s /metrics: a ticker asks the export collector for a
 * collection every interval (shared with any scrape in the same moment: one host sample feeds
 * both), the collector hands each sample to the web state, and the state's updates go out on
 * the SSE streams.
 */
import { HvkitError } from '../../errors.ts';
import { BUSY, type ExpositionCollector } from '../export/collector.ts';
import type { ExtraRoutes } from '../export/server.ts';
import { WebStreams, webRoutes } from './api.ts';
import { WebState, type WebStateOptions } from './state.ts';

export const DEFAULT_WEB_INTERVAL_MS = 1000;

export interface WebView {
  state: WebState;
  routes: ExtraRoutes;
  streams: WebStreams;
  /** Stops the ticker and ends every stream. */
  close(): void;
}

export function startWebView(
  collector: ExpositionCollector,
  /** intervalMs null: no ticker (the caller pushes samples into `state`, as the demo does). */
  options: WebStateOptions & { intervalMs?: number | null } = {},
): WebView {
  const state = new WebState(options);
  const streams = new WebStreams();
  const stopObserving = collector.observe((sample, atMs) => state.push(sample, atMs));
  const tick = () => {
    const pending = collector.collect();
    if (pending === BUSY) return; // scrapes are waiting on a collection: it feeds the view too
    pending.catch((err: unknown) => {
      // A failed host sample is the scrape's 503; the view keeps its last state and tries again.
      if (!(err instanceof HvkitError)) throw err;
    });
  };
  let timer: NodeJS.Timeout | undefined;
  if (options.intervalMs !== null) {
    tick();
    timer = setInterval(tick, options.intervalMs ?? DEFAULT_WEB_INTERVAL_MS);
  }
  return {
    state,
    routes: webRoutes(state, streams),
    streams,
    close() {
      clearInterval(timer);
      stopObserving();
      streams.closeAll();
    },
  };
}
