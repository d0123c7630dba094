/**
 * The web view beside `hvkit export`'s /metrics. It samples the host only while someone looks: a
 * ticker asks the export collector for a collection every interval while a page holds an event
 * stream open, and an API request finds a sample no older than the interval (one is taken first
 * when needed). Nobody looking, the exporter costs what its scrapes cost and nothing more; the
 * scrapes' samples still feed the view (one host sample feeds both), and the state's updates go
 * out on the SSE streams.
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
  const intervalMs = options.intervalMs === null ? null : (options.intervalMs ?? DEFAULT_WEB_INTERVAL_MS);
  const collectOnce = async (): Promise<void> => {
    const pending = collector.collect();
    if (pending === BUSY) return; // scrapes are waiting on a collection: it feeds the view too
    try {
      await pending;
    } catch (err) {
      // A failed host sample is the scrape's 503; the view keeps its last state and tries again.
      if (!(err instanceof HvkitError)) throw err;
    }
  };
  const tick = () => {
    if (streams.count > 0) void collectOnce();
  };
  const hooks = {
    /** Before an API answer: a sample no older than the interval. */
    freshen: async (): Promise<void> => {
      if (intervalMs === null) return;
      const latest = state.latest;
      if (latest && Date.now() - latest.t < intervalMs) return;
      await collectOnce();
    },
    /** A page connected: it gets a fresh sample now, then one per interval while it stays. */
    streamOpened: tick,
  };
  const timer = intervalMs === null ? undefined : setInterval(tick, intervalMs);
  return {
    state,
    routes: webRoutes(state, streams, hooks),
    streams,
    close() {
      clearInterval(timer);
      stopObserving();
      streams.closeAll();
    },
  };
}
