import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { nativeBuckets } from '../../src/formats/exposition/buckets.ts';
import { scaledDecimal, scaledNumber } from '../../src/formats/exposition/decimal.ts';
import type { Exposition, MetricFamily } from '../../src/formats/exposition/model.ts';
import { negotiate } from '../../src/formats/exposition/negotiate.ts';
import { encodeProtobuf } from '../../src/formats/exposition/protobuf.ts';
import { encodeOpenMetrics, encodePrometheusText } from '../../src/formats/exposition/text.ts';
import { decodeDelimited } from './proto-reader.ts';
import { parseText } from './text-parser.ts';

const START = 1_700_000_000_123;
const U64_MAX = 2n ** 64n - 1n;

function fixture(): Exposition {
  return {
    atMs: START + 5000,
    families: [
      {
        name: 'hvkit_kvm_vcpu_exits',
        help: 'KVM exits "all" \\ kinds',
        type: 'counter',
        unit: '',
        scale: { base: 10, exponent: 0 },
        points: [
          {
            labels: [
              ['vm', 'a"b\\c\nd'],
              ['vcpu', '0'],
            ],
            value: U64_MAX,
            startMs: START,
          },
        ],
      },
      {
        name: 'hvkit_kvm_vcpu_halt_wait_seconds',
        help: 'halt wait',
        type: 'counter',
        unit: 'seconds',
        scale: { base: 10, exponent: -9 },
        points: [{ labels: [['vm', 'a']], value: 1_234_567_890_123n, startMs: START }],
      },
      {
        name: 'hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds',
        help: 'halt poll success',
        type: 'histogram',
        unit: 'nanoseconds',
        scale: { base: 10, exponent: 0 },
        shape: { kind: 'log2' },
        points: [{ labels: [['vm', 'a']], histogram: { buckets: [1n, 0n, 3n, 4n, 0n, 2n] }, startMs: START }],
      },
      {
        name: 'hvkit_vmm_pages',
        help: 'pages',
        type: 'gauge',
        unit: 'bytes',
        scale: { base: 2, exponent: 12 },
        points: [{ labels: [], value: 3n, startMs: START }],
      },
    ],
  };
}

test('Prometheus text 0.0.4: golden output (exact u64, escaped labels and HELP, classic buckets without _sum)', () => {
  assert.equal(
    encodePrometheusText(fixture()),
    `# HELP hvkit_kvm_vcpu_exits_total KVM exits "all" \\\\ kinds
# TYPE hvkit_kvm_vcpu_exits_total counter
hvkit_kvm_vcpu_exits_total{vm="a\\"b\\\\c\\nd",vcpu="0"} 18446744073709551615
# HELP hvkit_kvm_vcpu_halt_wait_seconds_total halt wait
# TYPE hvkit_kvm_vcpu_halt_wait_seconds_total counter
hvkit_kvm_vcpu_halt_wait_seconds_total{vm="a"} 1234.567890123
# HELP hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds halt poll success
# TYPE hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds histogram
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="0"} 1
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="1"} 1
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="3"} 4
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="7"} 8
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="15"} 8
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="+Inf"} 10
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_count{vm="a"} 10
# HELP hvkit_vmm_pages halt
# TYPE hvkit_vmm_pages gauge
hvkit_vmm_pages 12288
`.replace('hvkit_vmm_pages halt', 'hvkit_vmm_pages pages'),
  );
});

test('OpenMetrics 1.0: golden output (TYPE, UNIT, HELP with escaped quotes, _created, no _count without _sum, # EOF)', () => {
  assert.equal(
    encodeOpenMetrics(fixture()),
    `# TYPE hvkit_kvm_vcpu_exits counter
# HELP hvkit_kvm_vcpu_exits KVM exits \\"all\\" \\\\ kinds
hvkit_kvm_vcpu_exits_total{vm="a\\"b\\\\c\\nd",vcpu="0"} 18446744073709551615
hvkit_kvm_vcpu_exits_created{vm="a\\"b\\\\c\\nd",vcpu="0"} 1700000000.123
# TYPE hvkit_kvm_vcpu_halt_wait_seconds counter
# UNIT hvkit_kvm_vcpu_halt_wait_seconds seconds
# HELP hvkit_kvm_vcpu_halt_wait_seconds halt wait
hvkit_kvm_vcpu_halt_wait_seconds_total{vm="a"} 1234.567890123
hvkit_kvm_vcpu_halt_wait_seconds_created{vm="a"} 1700000000.123
# TYPE hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds histogram
# UNIT hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds nanoseconds
# HELP hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds halt poll success
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="0"} 1
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="1"} 1
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="3"} 4
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="7"} 8
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="15"} 8
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_bucket{vm="a",le="+Inf"} 10
hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds_created{vm="a"} 1700000000.123
# TYPE hvkit_vmm_pages gauge
# UNIT hvkit_vmm_pages bytes
# HELP hvkit_vmm_pages pages
hvkit_vmm_pages 12288
# EOF
`,
  );
});

test('protobuf: families, counters with _total, classic buckets and native schema-0 fields round-trip', () => {
  const d = decodeDelimited(encodeProtobuf(fixture()));
  assert.deepEqual(
    d.map((f) => [f.name, f.type]),
    [
      ['hvkit_kvm_vcpu_exits_total', 0],
      ['hvkit_kvm_vcpu_halt_wait_seconds_total', 0],
      ['hvkit_kvm_vcpu_halt_poll_success_hist_nanoseconds', 4],
      ['hvkit_vmm_pages', 1],
    ],
  );
  assert.equal(d[0]!.help, 'KVM exits "all" \\ kinds');
  assert.deepEqual(d[0]!.metrics[0]!.labels, [
    ['vm', 'a"b\\c\nd'],
    ['vcpu', '0'],
  ]);
  assert.equal(d[0]!.metrics[0]!.counter, 2 ** 64);
  assert.equal(d[1]!.metrics[0]!.counter, 1234.567890123);
  assert.equal(d[3]!.metrics[0]!.gauge, 12288);
  const h = d[2]!.metrics[0]!.histogram!;
  assert.equal(h.count, 10n);
  assert.equal(h.sum, undefined);
  assert.deepEqual(
    h.buckets.map((b) => [b.cumulative, b.upper]),
    [
      [1n, 0],
      [1n, 1],
      [4n, 3],
      [8n, 7],
      [8n, 15],
    ],
  );
  assert.equal(h.schema, 0);
  assert.equal(h.zeroThreshold, 2 ** -128, 'exact for integer observations; marks the histogram native');
  assert.equal(h.zeroCount, 1n);
  // kernel buckets 2, 3 (indexes 2, 3) then 5 (index 5, after a gap of one).
  assert.deepEqual(h.spans, [
    [2, 2],
    [1, 1],
  ]);
  assert.deepEqual(h.deltas, [3n, 1n, -2n]);
});

test('protobuf: a native histogram with nothing above zero still has a span (Prometheus reads it as native)', () => {
  const e = fixture();
  e.families = [{ ...e.families[2]!, points: [{ labels: [], histogram: { buckets: [0n, 0n, 0n] }, startMs: 0 }] }];
  const h = decodeDelimited(encodeProtobuf(e))[0]!.metrics[0]!.histogram!;
  assert.deepEqual(h.spans, [[0, 0]]);
  assert.equal(h.count, 0n);
});

test('protobuf: a base-10 scaled log2 histogram has classic buckets only (no native fields)', () => {
  const e = fixture();
  e.families = [{ ...e.families[2]!, scale: { base: 10, exponent: -9 } }];
  const h = decodeDelimited(encodeProtobuf(e))[0]!.metrics[0]!.histogram!;
  assert.equal(h.schema, undefined);
  assert.deepEqual(h.spans, []);
  assert.equal(h.buckets[2]!.upper, 3e-9);
});

test('native buckets: expanding spans and deltas gives back every non-zero kernel bucket at index i + shift', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: U64_MAX })), { maxLength: 70 }),
      fc.integer({ min: -20, max: 20 }),
      (buckets, shift) => {
        const n = nativeBuckets(buckets, shift);
        const got = new Map<number, bigint>();
        let index = 0;
        let k = 0;
        n.spans.forEach(([offset, length], s) => {
          index = s === 0 ? offset : index + offset;
          for (let j = 0; j < length; j++) got.set(index++, n.counts[k++]!);
        });
        const want = new Map<number, bigint>();
        buckets.forEach((c, i) => {
          if (i > 0 && c !== 0n) want.set(i + shift, c);
        });
        assert.deepEqual(got, want);
        assert.equal(n.zeroCount, buckets[0] ?? 0n);
      },
    ),
  );
});

test('decimals are exact: scaledDecimal(raw, 10^e or 2^e) × 10^places equals raw × scale, and the double is the nearest', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: U64_MAX }),
      fc.integer({ min: -40, max: 40 }),
      fc.constantFrom(2 as const, 10 as const),
      (raw, exponent, base) => {
        const text = scaledDecimal(raw, { base, exponent });
        assert.match(text, /^\d+(\.\d*[1-9])?$/);
        const [whole, frac = ''] = text.split('.');
        const asFraction = BigInt(whole! + frac);
        const den = 10n ** BigInt(frac.length);
        // text = asFraction / den must equal raw × base^exponent exactly.
        const f = BigInt(base) ** BigInt(Math.abs(exponent));
        if (exponent >= 0) assert.equal(asFraction, raw * f * den);
        else assert.equal(asFraction * f, raw * den);
        assert.equal(scaledNumber(raw, { base, exponent }), Number(text));
      },
    ),
  );
});

test('decimals: an exponent past the exact range stays parseable', () => {
  assert.equal(scaledDecimal(5n, { base: 10, exponent: -300 }), '5e-300');
  assert.equal(scaledDecimal(5n, { base: 2, exponent: 2000 }), '+Inf');
});

const anyText = fc.string({ unit: 'binary', maxLength: 40 });

test('any label value and HELP text renders to text that parses back to it (0.0.4, OpenMetrics, protobuf)', () => {
  fc.assert(
    fc.property(anyText, anyText, fc.bigInt({ min: 0n, max: U64_MAX }), (value, help, raw) => {
      const family: MetricFamily = {
        name: 'm',
        help,
        type: 'gauge',
        unit: '',
        scale: { base: 10, exponent: 0 },
        points: [{ labels: [['l', value]], value: raw, startMs: 0 }],
      };
      const e = { atMs: 0, families: [family] };
      for (const om of [false, true]) {
        const p = parseText(om ? encodeOpenMetrics(e) : encodePrometheusText(e), om);
        assert.equal(p.help.get('m'), help);
        assert.deepEqual(p.samples, [{ name: 'm', labels: [['l', value]], value: raw.toString() }]);
      }
      const d = decodeDelimited(encodeProtobuf(e));
      assert.equal(d[0]!.help, Buffer.from(help).toString());
      assert.deepEqual(d[0]!.metrics[0]!.labels, [['l', Buffer.from(value).toString()]]);
    }),
  );
});

test('negotiation: Prometheus 2.42 with native histograms gets protobuf, without them OpenMetrics; curl gets text', () => {
  const withProto =
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  const plain =
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  assert.equal(negotiate(withProto), 'protobuf');
  assert.equal(negotiate(plain), 'openmetrics');
  assert.equal(negotiate('*/*'), 'text');
  assert.equal(negotiate(undefined), 'text');
  assert.equal(negotiate('text/plain'), 'text');
  assert.equal(negotiate('application/vnd.google.protobuf'), 'text', 'a protobuf without proto/encoding is not ours');
  assert.equal(negotiate('application/openmetrics-text;version=2.0.0'), 'text', 'an unknown version is not ours');
  assert.equal(negotiate('text/plain;q=0.1, application/openmetrics-text;q=0.9'), 'openmetrics');
  assert.equal(negotiate('application/openmetrics-text;q=0, */*'), 'text');
  assert.equal(negotiate('image/png'), 'text');
});

test('negotiation: any Accept header picks one of the three formats without throwing', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (h) => {
      assert.ok(['text', 'openmetrics', 'protobuf'].includes(negotiate(h)));
    }),
  );
});
