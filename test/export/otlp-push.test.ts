/**
 * The OTLP push against hostile collectors on loopback (real sockets): one that never answers,
 * one that answers 500 or 503, one that closes the connection, one that is not there. The loop
 * must neither overlap pushes, nor block, nor crash; it counts the failures and reports each kind
 * once.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { EnvironmentError } from '../../src/errors.ts';
import type { Exposition } from '../../src/formats/exposition/model.ts';
import { type OtlpPush, type OtlpPushOptions, retryAfterMs, startOtlpPush } from '../../src/tools/export/otlp-push.ts';
import { hangDeadline } from '../support/slowdown.ts';

const exposition = (): Exposition => ({
  atMs: Date.now(),
  families: [
    {
      name: 'hvkit_exits',
      help: 'exits',
      type: 'counter',
      unit: '',
      scale: { base: 10, exponent: 0 },
      points: [{ labels: [['vm', 'a']], value: 1n, startMs: Date.now() }],
    },
  ],
});

interface Collector {
  server: Server;
  url: string;
  /** Requests received. */
  requests: number;
  /** The most requests open at once. */
  maxOpen: number;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

async function collector(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Collector> {
  let open = 0;
  const sockets = new Set<Socket>();
  const c = { requests: 0, maxOpen: 0, sockets } as Collector;
  const server = createServer((req, res) => {
    c.requests++;
    open++;
    c.maxOpen = Math.max(c.maxOpen, open);
    res.once('close', () => open--);
    req.resume();
    answer(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  c.server = server;
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
  c.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return c;
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + hangDeadline(15_000);
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`${what}: not reached before the hang deadline`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** stop() ends the loop promptly (a hung post is aborted), or the test fails instead of hanging. */
async function stopWithin(push: OtlpPush): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('stop() did not return')), hangDeadline(5_000));
  });
  try {
    await Promise.race([push.stop(), hung]);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(push.stats().running, false);
}

function start(url: string, errors: unknown[], overrides: Partial<OtlpPushOptions> = {}): OtlpPush {
  return startOtlpPush({
    url,
    intervalMs: 20,
    timeoutMs: 150,
    maxAttempts: 2,
    backoffMs: 20,
    collect: exposition,
    onError: (e) => errors.push(e),
    ...overrides,
  });
}

function messages(errors: unknown[]): string[] {
  return errors.map((e) => {
    assert.ok(e instanceof Error && e.name === 'EnvironmentError', `typed environment error: ${String(e)}`);
    return e.message;
  });
}

test('a collector that never answers: each push times out, retried once, no overlap, one report', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector(() => {
    // Never answers.
  });
  const errors: unknown[] = [];
  // The backoff leaves the collector ample time to see the timed-out connection close before the
  // retry arrives, so `maxOpen` measures overlap, not the order it handles two sockets' events in.
  const push = start(c.url, errors, { backoffMs: 100 });
  try {
    await until('three failed pushes', () => push.stats().failed >= 3);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const stats = push.stats();
  assert.equal(stats.succeeded, 0);
  assert.equal(stats.failures.timeout, c.requests, 'every request timed out and was counted');
  assert.ok(stats.failures.timeout !== undefined && stats.failures.timeout >= 2 * stats.failed - 1, 'retried');
  assert.equal(c.maxOpen, 1, 'pushes never overlap');
  assert.ok(stats.skippedTicks > 0, 'ticks missed while a push hung are skipped, not queued');
  assert.deepEqual(messages(errors), [`OTLP push to ${c.url}: no answer within 150 ms`]);
});

test('a collector answering 500: not retried (not retryable in OTLP), counted, reported once', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((_req, res) => res.writeHead(500).end('boom'));
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('three failed pushes', () => push.stats().failed >= 3);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const stats = push.stats();
  assert.equal(stats.failures['http-500'], stats.failed, 'one attempt per push');
  assert.equal(c.requests, stats.failed);
  assert.equal(c.maxOpen, 1);
  assert.deepEqual(messages(errors), [`OTLP push to ${c.url}: the collector answered HTTP 500`]);
});

test('a collector answering 503: retried with backoff up to the bound', { timeout: hangDeadline(60_000) }, async () => {
  const c = await collector((_req, res) => res.writeHead(503).end());
  const errors: unknown[] = [];
  const push = start(c.url, errors, { maxAttempts: 3 });
  try {
    await until('two failed pushes', () => push.stats().failed >= 2);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const stats = push.stats();
  const completed = stats.failed;
  // Each failed push made exactly 3 attempts; a push cut short by stop made fewer.
  assert.ok(
    c.requests >= 3 * completed && c.requests < 3 * (completed + 1),
    `${c.requests} requests, ${completed} pushes`,
  );
  assert.equal(stats.failures['http-503'], c.requests);
  assert.equal(errors.length, 1);
});

test('a collector that closes the connection on every request: counted as resets, reported once', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((req) => req.socket.destroy());
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('three failed pushes', () => push.stats().failed >= 3);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const stats = push.stats();
  assert.equal(stats.succeeded, 0);
  assert.equal(stats.failures.ECONNRESET, c.requests);
  assert.equal(c.maxOpen, 1);
  assert.deepEqual(messages(errors), [`OTLP push to ${c.url}: connection reset by the peer`]);
});

test('no collector at all: connection refused, counted, reported once', { timeout: hangDeadline(60_000) }, async () => {
  const c = await collector(() => {});
  const url = c.url;
  await c.close();
  const errors: unknown[] = [];
  const push = start(url, errors);
  try {
    await until('three failed pushes', () => push.stats().failed >= 3);
  } finally {
    await stopWithin(push);
  }
  assert.ok((push.stats().failures.ECONNREFUSED ?? 0) >= 3);
  assert.deepEqual(messages(errors), [`OTLP push to ${url}: connection refused`]);
});

test('a failure kind is reported again after the collector recovered in between', {
  timeout: hangDeadline(60_000),
}, async () => {
  let n = 0;
  // fail, fail, ok, fail, ok, ok, …
  const c = await collector((_req, res) => res.writeHead([1, 2, 4].includes(++n) ? 500 : 200).end());
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('five pushes', () => push.stats().succeeded + push.stats().failed >= 5);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  assert.equal(push.stats().failed, 3);
  assert.equal(errors.length, 2, 'reported at the first failure and again after the recovery');
});

test('a collect that fails with an hvkit error fails that push only; the loop goes on', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((_req, res) => res.writeHead(200).end());
  const errors: unknown[] = [];
  let calls = 0;
  const push = start(c.url, errors, {
    collect: () => {
      calls++;
      if (calls % 2 === 1) throw new EnvironmentError('the VM vanished');
      return exposition();
    },
  });
  try {
    await until('two successes', () => push.stats().succeeded >= 2);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  assert.ok((push.stats().failures.collect ?? 0) >= 2);
  // Reported at each failure that follows a success (each kind once per streak of failures).
  assert.ok(errors.length >= 2);
  assert.equal(messages(errors)[0], `OTLP push to ${c.url}: collecting the metrics failed: the VM vanished`);
  assert.equal(c.requests, push.stats().succeeded);
});

test('stop() during a hung post returns at once and nothing is pushed after it', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector(() => {});
  const errors: unknown[] = [];
  const push = start(c.url, errors, { timeoutMs: 60_000, intervalMs: 60_000 });
  await until('the post is in flight', () => c.requests === 1);
  await stopWithin(push);
  const after = c.requests;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(c.requests, after);
  assert.deepEqual(errors, [], 'stopping is not a failure');
  assert.equal(push.stats().failed, 0);
  await c.close();
});

test('a defect in collect (not an hvkit error) is not swallowed: reported, and the loop ends', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((_req, res) => res.writeHead(200).end());
  const errors: unknown[] = [];
  const push = start(c.url, errors, {
    collect: () => {
      throw new TypeError('a bug');
    },
  });
  await until('the loop ended', () => !push.stats().running);
  await stopWithin(push);
  await c.close();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof TypeError);
  assert.equal(c.requests, 0);
});

test('Retry-After longer than the interval: the push is dropped and none is made before it passed', {
  timeout: hangDeadline(60_000),
}, async () => {
  const arrivals: number[] = [];
  const c = await collector((_req, res) => {
    arrivals.push(performance.now());
    if (arrivals.length === 1) res.writeHead(429, { 'Retry-After': '1' }).end();
    else res.writeHead(200).end();
  });
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('a push after the wait', () => push.stats().succeeded >= 1);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const [first, second] = arrivals;
  assert.ok(first !== undefined && second !== undefined);
  // A lower bound only: however slow the machine, the collector's wait is respected.
  assert.ok(second - first >= 990, `second request ${second - first} ms after the first`);
  const stats = push.stats();
  assert.equal(stats.failures['http-429'], 1, 'not retried within the push');
  assert.ok(stats.skippedTicks > 0);
  assert.deepEqual(messages(errors), [`OTLP push to ${c.url}: the collector answered HTTP 429`]);
});

test('Retry-After within the interval: the retry waits for it', { timeout: hangDeadline(60_000) }, async () => {
  const arrivals: number[] = [];
  const c = await collector((_req, res) => {
    arrivals.push(performance.now());
    if (arrivals.length === 1) res.writeHead(503, { 'Retry-After': '1' }).end();
    else res.writeHead(200).end();
  });
  const errors: unknown[] = [];
  const push = start(c.url, errors, { intervalMs: 5_000 });
  try {
    await until('the retry succeeded', () => push.stats().succeeded >= 1);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const [first, second] = arrivals;
  assert.ok(first !== undefined && second !== undefined);
  assert.ok(second - first >= 990, `retry ${second - first} ms after the first`);
  assert.deepEqual(push.stats().failures, { 'http-503': 1 });
  assert.equal(push.stats().failed, 0, 'the push succeeded on its retry');
  assert.deepEqual(errors, []);
});

test('Retry-After: seconds or an HTTP date, clamped to [0, 10 min]; anything else ignored', () => {
  const now = Date.parse('2026-12-04T18:00:00Z');
  assert.equal(retryAfterMs('3', now), 3000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Fri, 04 Dec 2026 18:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Fri, 04 Dec 2026 17:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('99999999999', now), 600_000);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs('-5', now), undefined);
  assert.equal(retryAfterMs(undefined, now), undefined);
});

test('a 2xx answer with a partial success: taken, not retried, the rejection reported once', {
  timeout: hangDeadline(60_000),
}, async () => {
  // ExportMetricsServiceResponse { partial_success { rejected_data_points: 2, error_message: "no" } }
  const partial = Uint8Array.of(0x0a, 0x06, 0x08, 0x02, 0x12, 0x02, 0x6e, 0x6f);
  const c = await collector((_req, res) =>
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(partial),
  );
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('three pushes', () => push.stats().succeeded >= 3);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  const stats = push.stats();
  assert.equal(c.requests, stats.succeeded, 'not retried');
  assert.equal(stats.failures['partial-success'], stats.succeeded);
  assert.deepEqual(messages(errors), [`OTLP push to ${c.url}: the collector rejected 2 data points: no`]);
});

test('a 2xx answer that is not OTLP protobuf: taken, reported once as a bad answer', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((_req, res) =>
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(Uint8Array.of(0x0a, 0x7f)),
  );
  const errors: unknown[] = [];
  const push = start(c.url, errors);
  try {
    await until('two pushes', () => push.stats().succeeded >= 2);
  } finally {
    await stopWithin(push);
    await c.close();
  }
  assert.equal(push.stats().failures['bad-answer'], push.stats().succeeded);
  assert.equal(errors.length, 1);
  assert.match(
    messages(errors)[0] ?? '',
    /the collector's answer is not OTLP \(OTLP export response: .*length past its end/,
  );
});

test('an InternalError from collect or encode is a defect: reported and the loop ends', {
  timeout: hangDeadline(60_000),
}, async () => {
  const c = await collector((_req, res) => res.writeHead(200).end());
  const errors: unknown[] = [];
  const push = start(c.url, errors, {
    collect: () => ({
      atMs: Date.now(),
      // A histogram family without its shape: the encoder refuses it as a defect.
      families: [
        {
          name: 'h',
          help: '',
          type: 'histogram',
          unit: '',
          scale: { base: 10, exponent: 0 },
          points: [{ labels: [], histogram: { buckets: [1n] }, startMs: 0 }],
        },
      ],
    }),
  });
  await until('the loop ended', () => !push.stats().running);
  await stopWithin(push);
  await c.close();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).name, 'InternalError');
  assert.equal(c.requests, 0);
});

test('option values that cannot work are refused up front', () => {
  const base = { url: 'http://127.0.0.1:1/', collect: exposition, onError: () => {} };
  for (const bad of [
    { intervalMs: 0 },
    { intervalMs: Number.NaN },
    { intervalMs: 1000, maxAttempts: 0 },
    { intervalMs: 1000, timeoutMs: 0 },
    { intervalMs: 1000, backoffMs: -1 },
  ]) {
    assert.throws(() => startOtlpPush({ ...base, ...bad }), { name: 'UsageError' }, JSON.stringify(bad));
  }
});
