/**
 * OTLP/HTTP push: every interval, collect an exposition, encode it as an OTLP
 * ExportMetricsServiceRequest (protobuf) and POST it to the collector.
 *
 * - Pushes never overlap: one loop collects, posts (with its retries) and only then waits for the
 *   next tick; ticks missed while a push was slow are skipped, not queued.
 * - Each attempt has a deadline; a push is retried a bounded number of times with doubling
 *   backoff when the failure may pass (network errors, timeouts, HTTP 429/502/503/504 — the codes
 *   OTLP/HTTP calls retryable); any other HTTP status drops that push.
 * - A collector's Retry-After (429/503) is honoured: the retry waits for it, or, when it is longer
 *   than the interval, the push is dropped and no push is made before it has passed.
 * - A 2xx answer is read for OTLP's partial success: rejected data points are reported
 *   ('partial-success') like a failure, though the push counts as taken (it is not retried).
 * - Failures are counted per kind ('timeout', 'http-500', 'ECONNREFUSED', …) and reported through
 *   onError once per kind until a push succeeds again, so a dead collector is one line, not one
 *   per interval.
 * - Plain http only (any host); a URL whose path is "/" gets OTLP's default path /v1/metrics.
 */
import { Agent, type ClientRequest, request } from 'node:http';
import { EnvironmentError, errnoText, errorCode, FormatError, HvkitError, UsageError } from '../../errors.ts';
import type { Exposition } from '../../formats/exposition/model.ts';
import { encodeOtlpMetrics } from '../../formats/exposition/otlp.ts';
import { readOtlpMetricsResponse } from '../../formats/exposition/otlp-response.ts';
import { hvkitResourceMapping, hvkitScope } from './otlp-resource.ts';

export interface OtlpPushOptions {
  url: string;
  intervalMs: number;
  collect: () => Exposition;
  /** A push failed (once per failure kind until one succeeds), or a defect stopped the loop. */
  onError: (error: unknown) => void;
  /** Deadline of one POST, response included; default the interval, at most 10 s. */
  timeoutMs?: number;
  /** Attempts per push, first included; default 3. */
  maxAttempts?: number;
  /** Wait before the first retry, doubled for each next one; default 500 ms, at most half the interval. */
  backoffMs?: number;
  /** The body of one push; default hvkit's resource mapping and scope. */
  encode?: (exposition: Exposition) => Uint8Array;
}

export interface OtlpPushStats {
  /** Pushes started (collect, encode, post with retries). */
  pushes: number;
  succeeded: number;
  failed: number;
  /** Failed attempts by kind, retries included. */
  failures: Record<string, number>;
  /** Ticks skipped because the push before them was still running. */
  skippedTicks: number;
  /** False once stopped or ended by a defect. */
  running: boolean;
}

export interface OtlpPush {
  /** Ends the loop: aborts a post in flight and resolves when the loop has ended. */
  stop(): Promise<void>;
  stats(): OtlpPushStats;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** The collector's answer is read only to free the socket; more than this of it is not kept. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_TIMEOUT_MS = 10_000;

class PushFailure {
  constructor(
    readonly kind: string,
    readonly text: string,
    readonly retryable: boolean,
    /** The collector's Retry-After, when it sent one. */
    readonly retryAfterMs?: number,
  ) {}
}

/** Retry-After longer than this is taken as this (a hostile header cannot stop the pushes for days). */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Retry-After in delay-seconds or as an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  // An HTTP date names its month ("Fri, 04 Dec 2026 …"); Date.parse alone would take "-5" for a year.
  const ms = /^\d+$/.test(text)
    ? Number(text) * 1000
    : /[A-Za-z]{3}/.test(text)
      ? Date.parse(text) - nowMs
      : Number.NaN;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

export function startOtlpPush(options: OtlpPushOptions): OtlpPush {
  const target = otlpTarget(options.url);
  if (!(Number.isFinite(options.intervalMs) && options.intervalMs > 0)) {
    throw new UsageError(`OTLP push interval must be a positive number of milliseconds, got ${options.intervalMs}`);
  }
  const intervalMs = options.intervalMs;
  const timeoutMs = options.timeoutMs ?? Math.min(intervalMs, MAX_TIMEOUT_MS);
  const maxAttempts = options.maxAttempts ?? 3;
  const backoffMs = options.backoffMs ?? Math.min(500, intervalMs / 2);
  if (!(timeoutMs > 0 && Number.isInteger(maxAttempts) && maxAttempts >= 1 && backoffMs >= 0)) {
    throw new UsageError(
      `OTLP push needs a positive timeout, at least one attempt and a backoff ≥ 0 (got ${timeoutMs}, ${maxAttempts}, ${backoffMs})`,
    );
  }
  const encode = options.encode ?? defaultEncoder();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const stopping = new AbortController();
  const stats: OtlpPushStats = { pushes: 0, succeeded: 0, failed: 0, failures: {}, skippedTicks: 0, running: true };
  const reported = new Set<string>();
  /** No push before this time (performance.now()), set by a collector's Retry-After. */
  let notBefore = 0;

  const fail = (failure: PushFailure) => {
    stats.failures[failure.kind] = (stats.failures[failure.kind] ?? 0) + 1;
  };
  const report = (failure: PushFailure) => {
    if (reported.has(failure.kind)) return;
    reported.add(failure.kind);
    options.onError(new EnvironmentError(`OTLP push to ${options.url}: ${failure.text}`));
  };

  const pushOnce = async () => {
    stats.pushes++;
    let body: Uint8Array;
    try {
      body = encode(options.collect());
    } catch (e) {
      // A sample that could not be taken (a VM vanished mid-read, …) fails this push only; a
      // defect (not ours, or an InternalError of the encoder) ends the loop, reported.
      if (!(e instanceof HvkitError) || e.kind === 'internal') throw e;
      const failure = new PushFailure('collect', `collecting the metrics failed: ${e.message}`, false);
      fail(failure);
      stats.failed++;
      report(failure);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const result = await post(target, body, agent, timeoutMs, stopping.signal);
      if (stopping.signal.aborted) return;
      if (result.ok) {
        stats.succeeded++;
        if (result.problem === undefined) reported.clear();
        else {
          fail(result.problem);
          report(result.problem);
        }
        return;
      }
      const failure = result.failure;
      fail(failure);
      // A collector asking for more time than an interval gets it: this push is dropped (the next
      // carries the same cumulative totals) and ticks before then are skipped.
      const tooLong = failure.retryAfterMs !== undefined && failure.retryAfterMs > intervalMs;
      if (tooLong) notBefore = performance.now() + (failure.retryAfterMs ?? 0);
      if (!failure.retryable || attempt >= maxAttempts || tooLong) {
        stats.failed++;
        report(failure);
        return;
      }
      const wait = Math.max(backoffMs * 2 ** (attempt - 1), failure.retryAfterMs ?? 0);
      await sleep(wait, stopping.signal);
      if (stopping.signal.aborted) return;
    }
  };

  const loop = async () => {
    let next = performance.now();
    while (!stopping.signal.aborted) {
      if (performance.now() >= notBefore) await pushOnce();
      else stats.skippedTicks++;
      next += intervalMs;
      const now = performance.now();
      if (next < now) {
        const missed = Math.ceil((now - next) / intervalMs);
        stats.skippedTicks += missed;
        next += missed * intervalMs;
      }
      await sleep(next - now, stopping.signal);
    }
  };

  const ended = loop()
    .catch((e: unknown) => options.onError(e))
    .finally(() => {
      stats.running = false;
      agent.destroy();
    });

  return {
    stop() {
      stopping.abort();
      return ended;
    },
    stats: () => ({ ...stats, failures: { ...stats.failures } }),
  };
}

/** The URL to POST to: http only; "/" (or nothing) becomes OTLP's /v1/metrics. */
export function otlpTarget(url: string): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    throw new UsageError(`--otlp: ${JSON.stringify(url)} is not a URL`);
  }
  if (target.protocol !== 'http:') {
    throw new UsageError(`--otlp: only http:// URLs are supported, got ${JSON.stringify(url)}`);
  }
  if (target.pathname === '/') target.pathname = '/v1/metrics';
  return target;
}

function defaultEncoder(): (exposition: Exposition) => Uint8Array {
  const options = { resource: hvkitResourceMapping(), scope: hvkitScope() };
  return (exposition) => encodeOtlpMetrics(exposition, options);
}

type PostResult = { ok: true; problem?: PushFailure | undefined } | { ok: false; failure: PushFailure };

/** What a 2xx answer says went wrong anyway: rejected points, or an answer that is not OTLP. */
function answerProblem(answer: Uint8Array): PushFailure | undefined {
  try {
    const partial = readOtlpMetricsResponse(answer);
    if (partial === undefined) return undefined;
    const why = partial.errorMessage === '' ? '' : `: ${partial.errorMessage}`;
    return new PushFailure(
      'partial-success',
      `the collector rejected ${partial.rejectedDataPoints} data points${why}`,
      false,
    );
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return new PushFailure('bad-answer', `the collector's answer is not OTLP (${e.message})`, false);
  }
}

/**
 * One POST; resolves ok when the collector took it (2xx, with what its answer says went wrong
 * anyway), a PushFailure when it did not; rejects only on a defect (not a system error).
 */
function post(
  target: URL,
  body: Uint8Array,
  agent: Agent,
  timeoutMs: number,
  stopping: AbortSignal,
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      stopping.removeEventListener('abort', onStop);
      resolve(result);
    };
    const onSocketError = (e: unknown) => {
      const code = errorCode(e);
      if (code === undefined) {
        settled = true;
        clearTimeout(deadline);
        stopping.removeEventListener('abort', onStop);
        reject(e);
      } else settle({ ok: false, failure: new PushFailure(code, errnoText(code), true) });
    };
    const answered = (status: number, retryAfter: string | undefined, answer: Uint8Array | undefined) => {
      if (status >= 200 && status < 300) settle({ ok: true, problem: answer && answerProblem(answer) });
      else {
        const text = `the collector answered HTTP ${status}`;
        const failure = new PushFailure(`http-${status}`, text, RETRYABLE_STATUS.has(status), retryAfterMs(retryAfter));
        settle({ ok: false, failure });
      }
    };
    let req: ClientRequest | undefined;
    const deadline = setTimeout(() => {
      settle({ ok: false, failure: new PushFailure('timeout', `no answer within ${timeoutMs} ms`, true) });
      req?.destroy();
    }, timeoutMs);
    const onStop = () => {
      settle({ ok: true });
      req?.destroy();
    };
    stopping.addEventListener('abort', onStop);
    req = request(target, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const retryAfter = res.headers['retry-after'];
      // Only an OTLP protobuf answer is read (a partial success says how many points were rejected).
      const protobuf = /^application\/x-protobuf\b/i.test(res.headers['content-type'] ?? '');
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length <= MAX_RESPONSE_BYTES) {
          if (protobuf) chunks.push(chunk);
          return;
        }
        // The status is the answer; an endless body is not read to its end.
        answered(status, retryAfter, undefined);
        res.destroy();
      });
      res.on('error', onSocketError);
      res.on('end', () => answered(status, retryAfter, protobuf ? Buffer.concat(chunks) : undefined));
      res.on('close', () => {
        if (!res.complete)
          settle({
            ok: false,
            failure: new PushFailure('ECONNRESET', 'the collector closed the connection mid-answer', true),
          });
      });
    });
    req.on('error', onSocketError);
    req.end(body);
  });
}

function sleep(ms: number, stopping: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stopping.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      stopping.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stopping.addEventListener('abort', done);
  });
}
