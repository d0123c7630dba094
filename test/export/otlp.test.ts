/**
 * The OTLP encoder and push, checked by decoding with the official opentelemetry-proto
 * definitions (otlp-decode.ts): what a collector would read must be what hvkit read.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Exposition, Label, MetricFamily, MetricPoint, Scale } from '../../src/formats/exposition/model.ts';
import { encodeOtlpMetrics, type OtlpOptions } from '../../src/formats/exposition/otlp.ts';
import { bucketRanges } from '../../src/stats/histogram.ts';
import { startOtlpPush } from '../../src/tools/export/otlp-push.ts';
import { hvkitResourceMapping, hvkitScope } from '../../src/tools/export/otlp-resource.ts';
import { hangDeadline } from '../support/slowdown.ts';
import {
  attributeRecord,
  CUMULATIVE,
  decodeMetricsRequest,
  type ExponentialHistogramDataPoint,
  type HistogramDataPoint,
  type Metric,
  type MetricsRequest,
  type NumberDataPoint,
} from './otlp-decode.ts';

const AT_MS = 1_764_870_000_123;
const START_MS = 1_764_869_000_000;
const NS = 1_000_000n;

/** A KVM-style log2 histogram (halt_poll_success_hist_ns shape: 32 buckets, mostly empty). */
const KVM_LOG2 = [5n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 2n, 7n, 30n, 12n, 0n, 1n, ...Array<bigint>(16).fill(0n), 3n];

function vmLabels(name: string, pid: number, extra: Label[] = []): Label[] {
  return [
    ['vm', name],
    ['vm_key', `pid:${pid}:77:1`],
    ['pid', String(pid)],
    ['domid', '3'],
    ['unique_id', 'beef'],
    ...extra,
  ];
}

function sampleExposition(): Exposition {
  return {
    atMs: AT_MS,
    families: [
      {
        name: 'hvkit_vcpu_exits',
        help: 'VM exits',
        type: 'counter',
        unit: '',
        scale: { base: 10, exponent: 0 },
        points: [
          { labels: vmLabels('alpha', 101, [['vcpu', '0']]), value: (1n << 62n) + 1n, startMs: START_MS },
          { labels: vmLabels('alpha', 101, [['vcpu', '1']]), value: 9n, startMs: START_MS },
          { labels: vmLabels('beta', 202, [['vcpu', '0']]), value: 4n, startMs: START_MS + 5 },
        ],
      },
      {
        name: 'hvkit_vcpu_halt_wait_seconds',
        help: 'time halted',
        type: 'counter',
        unit: 'seconds',
        scale: { base: 10, exponent: -9 },
        points: [
          { labels: vmLabels('alpha', 101, [['vcpu', '0']]), value: 3_000_000_000n, startMs: START_MS },
          { labels: vmLabels('beta', 202, [['vcpu', '0']]), value: 1_500_000_000n, startMs: START_MS },
        ],
      },
      {
        name: 'hvkit_vm_pages_4k',
        help: 'mapped 4k pages',
        type: 'gauge',
        unit: '',
        scale: { base: 10, exponent: 0 },
        points: [{ labels: vmLabels('alpha', 101), value: 512n, startMs: START_MS }],
      },
      {
        name: 'hvkit_vcpu_halt_poll_success_nanoseconds',
        help: 'successful halt polls',
        type: 'histogram',
        unit: 'nanoseconds',
        scale: { base: 10, exponent: 0 },
        shape: { kind: 'log2' },
        points: [
          { labels: vmLabels('alpha', 101, [['vcpu', '0']]), histogram: { buckets: KVM_LOG2 }, startMs: START_MS },
        ],
      },
      {
        name: 'hvkit_vm_linear',
        help: 'a linear histogram',
        type: 'histogram',
        unit: '',
        scale: { base: 10, exponent: 0 },
        shape: { kind: 'linear', bucketSize: 10n },
        points: [
          { labels: vmLabels('beta', 202), histogram: { buckets: [1n, 2n, 0n, 4n], sum: 77n }, startMs: START_MS },
        ],
      },
    ],
  };
}

const OPTIONS: OtlpOptions = { resource: hvkitResourceMapping({ hostName: 'testhost' }), scope: hvkitScope() };

function metric(request: MetricsRequest, vm: string, name: string): Metric {
  const rm = request.resourceMetrics.find((r) => attributeRecord(r.resource.attributes)['hvkit.vm.name'] === vm);
  assert.ok(rm, `resource of ${vm}`);
  const m = rm.scopeMetrics[0]?.metrics.find((x) => x.name === name);
  assert.ok(m, `${name} of ${vm}`);
  return m;
}

test('one resource per VM with semantic-convention and hvkit attributes; the scope is hvkit', () => {
  const request = decodeMetricsRequest(encodeOtlpMetrics(sampleExposition(), OPTIONS));
  assert.equal(request.resourceMetrics.length, 2);
  const [alpha, beta] = request.resourceMetrics.map((r) => attributeRecord(r.resource.attributes));
  assert.deepEqual(
    { ...alpha, 'process.executable.name': undefined, 'process.command': undefined },
    {
      'host.name': 'testhost',
      'hvkit.vm.name': 'alpha',
      'hvkit.vm.key': 'pid:101:77:1',
      'process.pid': 101n,
      'hvkit.domid': 3n,
      'hvkit.unique_id': 'beef',
      'process.executable.name': undefined,
      'process.command': undefined,
    },
  );
  assert.equal(beta?.['process.pid'], 202n);
  for (const rm of request.resourceMetrics) {
    assert.equal(rm.scopeMetrics.length, 1);
    assert.deepEqual(rm.scopeMetrics[0]?.scope, { name: 'hvkit', version: hvkitScope().version });
  }
  // vcpu stays on the point; VM identity does not.
  const exits = metric(request, 'alpha', 'hvkit_vcpu_exits');
  assert.deepEqual(
    exits.sum?.dataPoints.map((p) => attributeRecord(p.attributes)),
    [{ vcpu: '0' }, { vcpu: '1' }],
  );
});

test('counters are cumulative monotonic Sums with start times; u64 values exact as int', () => {
  const request = decodeMetricsRequest(encodeOtlpMetrics(sampleExposition(), OPTIONS));
  const exits = metric(request, 'alpha', 'hvkit_vcpu_exits');
  assert.equal(exits.sum?.aggregationTemporality, CUMULATIVE);
  assert.equal(exits.sum?.isMonotonic, true);
  assert.equal(exits.description, 'VM exits');
  assert.equal(exits.unit, undefined);
  const [p0, p1] = exits.sum?.dataPoints ?? [];
  assert.equal(p0?.asInt, String((1n << 62n) + 1n), 'above 2^53, exact');
  assert.equal(p0?.startTimeUnixNano, String(BigInt(START_MS) * NS));
  assert.equal(p0?.timeUnixNano, String(BigInt(AT_MS) * NS));
  assert.equal(p1?.asInt, '9');
  const beta = metric(request, 'beta', 'hvkit_vcpu_exits').sum?.dataPoints[0];
  assert.equal(beta?.startTimeUnixNano, String(BigInt(START_MS + 5) * NS));

  const halt = metric(request, 'alpha', 'hvkit_vcpu_halt_wait_seconds');
  assert.equal(halt.unit, 's');
  assert.equal(halt.sum?.dataPoints[0]?.asInt, '3', '3e9 ns is exactly 3 s');
  assert.equal(metric(request, 'beta', 'hvkit_vcpu_halt_wait_seconds').sum?.dataPoints[0]?.asDouble, 1.5);
});

test('gauges are Gauges without a start time', () => {
  const request = decodeMetricsRequest(encodeOtlpMetrics(sampleExposition(), OPTIONS));
  const pages = metric(request, 'alpha', 'hvkit_vm_pages_4k');
  assert.equal(pages.sum, undefined);
  assert.equal(pages.gauge?.dataPoints.length, 1);
  assert.equal(pages.gauge?.dataPoints[0]?.asInt, '512');
  assert.equal(pages.gauge?.dataPoints[0]?.startTimeUnixNano, undefined);
});

test('a KVM log2 histogram is an ExponentialHistogram of scale 0 whose buckets are the kernel buckets', () => {
  const request = decodeMetricsRequest(encodeOtlpMetrics(sampleExposition(), OPTIONS));
  const hist = metric(request, 'alpha', 'hvkit_vcpu_halt_poll_success_nanoseconds');
  assert.equal(hist.unit, 'ns');
  assert.equal(hist.exponentialHistogram?.aggregationTemporality, CUMULATIVE);
  const p = hist.exponentialHistogram?.dataPoints[0];
  assert.ok(p);
  assert.equal(p.scale ?? 0, 0);
  assert.equal(p.zeroCount, '5');
  assert.equal(p.zeroThreshold ?? 0, 0);
  assert.equal(p.count, '60');
  assert.equal(p.sum, undefined, 'KVM keeps no sum: absent, not zero');
  assert.equal(p.negative, undefined);
  // Kernel bucket 9 is the first non-empty one after the zeros: OTLP index 8, up to the clamped last bucket 31.
  assert.equal(p.positive?.offset, 8);
  assert.deepEqual(p.positive?.bucketCounts, ['2', '7', '30', '12', '0', '1', ...Array(16).fill('0'), '3']);
  assert.deepEqual(attributeRecord(p.attributes), { vcpu: '0' });

  // Against hvkit's own reading of the buckets: OTLP index k covers (2^k, 2^(k+1)], kernel bucket
  // k + 1 covers [2^k, 2^(k+1)); every non-empty kernel bucket lands on the index whose upper bound
  // is the kernel bucket's (exclusive) upper bound.
  const ranges = bucketRanges('log2', KVM_LOG2.length);
  const offset = p.positive?.offset ?? 0;
  (p.positive?.bucketCounts ?? []).forEach((count, j) => {
    const k = offset + j;
    const range = ranges[k + 1];
    assert.ok(range);
    assert.equal(BigInt(count), KVM_LOG2[k + 1]);
    assert.equal(range.lower, 1n << BigInt(k));
    if (range.upper !== null) assert.equal(range.upper, 1n << BigInt(k + 1));
  });
});

test('a linear histogram is a Histogram with upper-inclusive integer bounds and its sum', () => {
  const request = decodeMetricsRequest(encodeOtlpMetrics(sampleExposition(), OPTIONS));
  const p = metric(request, 'beta', 'hvkit_vm_linear').histogram?.dataPoints[0];
  assert.ok(p);
  assert.deepEqual(p.bucketCounts, ['1', '2', '0', '4']);
  assert.deepEqual(p.explicitBounds, [9, 19, 29]);
  assert.equal(p.count, '7');
  assert.equal(p.sum, 77);
});

// --- property: random families → encode → official decode → the same numbers -------------------

const scaleArb: fc.Arbitrary<Scale> = fc.oneof(
  fc.record({ base: fc.constant(10 as const), exponent: fc.integer({ min: -12, max: 12 }) }),
  fc.record({ base: fc.constant(2 as const), exponent: fc.integer({ min: -20, max: 20 }) }),
);
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 1000n }));
const labelsArb: fc.Arbitrary<Label[]> = fc
  .tuple(
    fc.constantFrom('a', 'b', 'c'),
    fc.integer({ min: 1, max: 4 }),
    fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
  )
  .map(([vm, pid, vcpu]) => [
    ['vm', vm],
    ['pid', String(pid)],
    ...(vcpu === undefined ? [] : [['vcpu', String(vcpu)] as Label]),
  ]);

function pointArb(type: MetricFamily['type']): fc.Arbitrary<MetricPoint> {
  const histogram = fc.record(
    {
      buckets: fc.array(fc.bigInt({ min: 0n, max: (1n << 58n) - 1n }), { minLength: 1, maxLength: 40 }),
      sum: u64,
    },
    { requiredKeys: ['buckets'] },
  );
  const common = { labels: labelsArb, startMs: fc.integer({ min: 0, max: AT_MS }) };
  if (type === 'histogram') return fc.record({ ...common, histogram });
  return fc.record({ ...common, value: u64 });
}

const familyArb: fc.Arbitrary<MetricFamily> = fc
  .tuple(fc.constantFrom('counter', 'gauge', 'log2', 'linear'), scaleArb, fc.bigInt({ min: 1n, max: 1000n }))
  .chain(([kind, scale, bucketSize]) => {
    const type = kind === 'log2' || kind === 'linear' ? 'histogram' : kind;
    // A log2 family keeps its bounds powers of two: base 2, or exponent 0.
    const familyScale = kind === 'log2' && scale.base === 10 ? { base: 10 as const, exponent: 0 } : scale;
    return fc.record({
      name: fc.constantFrom('m_one', 'm_two', 'm_three'),
      help: fc.string(),
      type: fc.constant(type),
      unit: fc.constantFrom('', 'seconds', 'bytes'),
      scale: fc.constant(familyScale),
      shape: fc.constant(
        kind === 'log2'
          ? { kind: 'log2' as const }
          : kind === 'linear'
            ? { kind: 'linear' as const, bucketSize }
            : undefined,
      ),
      points: fc.array(pointArb(type), { maxLength: 6 }),
    });
  })
  .map((f) => (f.shape === undefined ? { ...f, shape: undefined } : f));

/** The exact value raw × base^exponent is `asInt` (bigint arithmetic, no rounding). */
function exactlyInt(raw: bigint, scale: Scale, asInt: bigint): boolean {
  const factor = BigInt(scale.base) ** BigInt(Math.abs(scale.exponent));
  return scale.exponent >= 0 ? raw * factor === asInt : raw === asInt * factor;
}

function expectNumber(raw: bigint, scale: Scale, p: NumberDataPoint): void {
  if (p.asInt !== undefined) {
    assert.ok(exactlyInt(raw, scale, BigInt(p.asInt)), `${raw}×${scale.base}^${scale.exponent} is ${p.asInt}`);
    return;
  }
  assert.notEqual(p.asDouble, undefined);
  // Sent as a double only when the value is not an int64 integer.
  const factor = BigInt(scale.base) ** BigInt(Math.abs(scale.exponent));
  const exact = scale.exponent >= 0 ? raw * factor : raw % factor === 0n ? raw / factor : undefined;
  assert.ok(exact === undefined || exact >= 1n << 63n, `${raw}×${scale.base}^${scale.exponent} should be an int`);
  assert.equal(p.asDouble, nearestDouble(raw, scale));
}

/** The double nearest raw × base^exponent (the number parser rounds a decimal literal correctly). */
function nearestDouble(raw: bigint, scale: Scale): number {
  return scale.base === 10 ? Number.parseFloat(`${raw}e${scale.exponent}`) : Number(raw) * 2 ** scale.exponent;
}

test('random families survive encoding and the official decoder with the same numbers (property)', () => {
  fc.assert(
    fc.property(fc.array(familyArb, { maxLength: 5 }), (families) => {
      const request = decodeMetricsRequest(encodeOtlpMetrics({ families, atMs: AT_MS }, OPTIONS));
      // Walk the decoded points in the order the encoder visits them, per resource.
      const decoded = new Map<string, Metric[]>();
      for (const rm of request.resourceMetrics) {
        const attrs = attributeRecord(rm.resource.attributes);
        decoded.set(`${attrs['hvkit.vm.name']}/${attrs['process.pid']}`, [...(rm.scopeMetrics[0]?.metrics ?? [])]);
      }
      let seen = 0;
      for (const family of families) {
        const byResource = new Map<string, MetricPoint[]>();
        for (const point of family.points) {
          const key = `${point.labels[0]?.[1]}/${point.labels[1]?.[1]}`;
          byResource.set(key, [...(byResource.get(key) ?? []), point]);
        }
        for (const [key, points] of byResource) {
          const m = decoded.get(key)?.shift();
          assert.ok(m, `metric ${family.name} of ${key}`);
          assert.equal(m.name, family.name);
          for (const [i, point] of points.entries()) {
            seen++;
            const vcpu = point.labels[2]?.[1];
            if (family.type === 'counter' || family.type === 'gauge') {
              const p: NumberDataPoint | undefined = (family.type === 'counter' ? m.sum : m.gauge)?.dataPoints[i];
              assert.ok(p);
              assert.deepEqual(attributeRecord(p.attributes), vcpu === undefined ? {} : { vcpu });
              expectNumber(point.value ?? -1n, family.scale, p);
              if (family.type === 'counter') {
                assert.equal(m.sum?.aggregationTemporality, CUMULATIVE);
                assert.equal(m.sum?.isMonotonic, true);
                assert.equal(p.startTimeUnixNano, String(BigInt(point.startMs) * NS));
              }
              continue;
            }
            const { buckets, sum } = point.histogram ?? { buckets: [] };
            const count = String(buckets.reduce((a, b) => a + b, 0n));
            if (family.shape?.kind === 'log2') {
              const p: ExponentialHistogramDataPoint | undefined = m.exponentialHistogram?.dataPoints[i];
              assert.ok(p);
              assert.equal(p.scale ?? 0, 0);
              assert.equal(p.count, count);
              assert.equal(BigInt(p.zeroCount ?? '0'), buckets[0]);
              // Back from OTLP indexes to kernel buckets: index k is kernel bucket k + 1 − shift.
              const shift = family.scale.base === 2 ? family.scale.exponent : 0;
              const back = buckets.map(() => 0n);
              back[0] = BigInt(p.zeroCount ?? '0');
              (p.positive?.bucketCounts ?? []).forEach((c, j) => {
                back[(p.positive?.offset ?? 0) + j + 1 - shift] = BigInt(c);
              });
              assert.deepEqual(back, buckets);
              if (sum === undefined) assert.equal(p.sum, undefined);
              else assert.equal(p.sum, nearestDouble(sum, family.scale));
            } else {
              const p: HistogramDataPoint | undefined = m.histogram?.dataPoints[i];
              assert.ok(p);
              assert.equal(p.count, count);
              assert.deepEqual((p.bucketCounts ?? []).map(BigInt), buckets);
              assert.equal((p.explicitBounds ?? []).length, buckets.length - 1);
              assert.equal(p.sum, sum === undefined ? undefined : nearestDouble(sum, family.scale));
            }
          }
        }
      }
      assert.equal(
        seen,
        families.reduce((n, f) => n + f.points.length, 0),
      );
      for (const left of decoded.values()) assert.deepEqual(left, [], 'no metric without a point in the input');
    }),
    { numRuns: 200 },
  );
});

// --- the push, received by a real HTTP server on loopback ----------------------------------------

/** Waits for `done`, failing (not hanging) after a generous deadline. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + hangDeadline(10_000);
  while (!done()) {
    if (Date.now() > deadline) assert.fail('condition not reached before the hang deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Received {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

test('the push POSTs protobuf to /v1/metrics on loopback and the collector reads hvkit numbers', async () => {
  const received: Received[] = [];
  let gotOne!: () => void;
  const first = new Promise<void>((resolve) => {
    gotOne = resolve;
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      gotOne();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const errors: unknown[] = [];
  const push = startOtlpPush({
    url: `http://127.0.0.1:${port}`,
    intervalMs: 60_000,
    collect: sampleExposition,
    onError: (e) => errors.push(e),
  });
  try {
    await first;
    await until(() => push.stats().succeeded === 1);
  } finally {
    await push.stop();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.deepEqual(errors, []);
  assert.equal(received.length, 1, 'one push per interval');
  const [r] = received;
  assert.ok(r);
  assert.equal(r.path, '/v1/metrics');
  assert.equal(r.headers['content-type'], 'application/x-protobuf');
  const request = decodeMetricsRequest(r.body);
  const attrs = attributeRecord(request.resourceMetrics[0]?.resource.attributes);
  assert.equal(typeof attrs['host.name'], 'string');
  assert.equal(attrs['hvkit.vm.name'], 'alpha');
  const hist = metric(request, 'alpha', 'hvkit_vcpu_halt_poll_success_nanoseconds').exponentialHistogram?.dataPoints[0];
  assert.equal(hist?.zeroCount, '5');
  assert.equal(hist?.positive?.offset, 8);
  assert.equal(metric(request, 'alpha', 'hvkit_vcpu_exits').sum?.dataPoints[0]?.asInt, String((1n << 62n) + 1n));
  const stats = push.stats();
  assert.equal(stats.succeeded, 1);
  assert.equal(stats.failed, 0);
  assert.equal(stats.running, false);
});

test('the push refuses a URL that is not http', () => {
  for (const url of ['https://127.0.0.1:4318', 'grpc://x', 'not a url']) {
    assert.throws(
      () => startOtlpPush({ url, intervalMs: 1000, collect: sampleExposition, onError: () => {} }),
      (e: Error) => e.name === 'UsageError',
    );
  }
});
