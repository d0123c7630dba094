/**
 * End to end: a real `hvkit host` (sim backend) runs a domain; an AttachSession samples it; the
 * exporter's own collector (the mapping `hvkit export` serves to Prometheus) makes the exposition
 * families; the OTLP push sends them to a receiver on loopback, which decodes them with the
 * official definitions. What arrives must be what hvkit read: the VM's
 * identity as resource attributes, every counter, gauge and histogram bucket with its number.
 */
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { after, before, test } from 'node:test';
import { AttachSession } from '../../src/attach/session.ts';
import type { Exposition } from '../../src/formats/exposition/model.ts';
import { ExpositionCollector } from '../../src/tools/export/collector.ts';
import { startOtlpPush } from '../../src/tools/export/otlp-push.ts';
import { ctl, json, type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { attributeRecord, CUMULATIVE, decodeMetricsRequest, type Metric } from './otlp-decode.ts';

const NAME = `otlp-e2e-${process.pid}`;
let host: Started | undefined;
let domid = -1;

before(async () => {
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '0']);
  const d = json<{ domid: number }>(
    ctl(host.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--name', NAME, '--json']),
  );
  domid = d.domid;
});

after(async () => {
  if (host) await stopHost(host);
});

test('a sim host VM, sampled by an attach session, arrives at an OTLP receiver with the numbers hvkit read', async () => {
  assert.ok(host);
  const collector = new ExpositionCollector(new AttachSession({ pids: [host.pid], debugfs: false }));
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sent: Exposition[] = [];
  const errors: unknown[] = [];
  const push = startOtlpPush({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    intervalMs: 100,
    collect: () => {
      const exposition = collector.collectNow().exposition;
      sent.push(exposition);
      return exposition;
    },
    onError: (e) => errors.push(e),
  });
  const deadline = Date.now() + hangDeadline(20_000);
  const ours = (e: Exposition | undefined) =>
    e?.families.some((f) => f.type === 'histogram' && f.points.some((p) => p.labels.some(([, v]) => v === NAME)));
  try {
    // Wait for a push that carried the domain's histograms and was taken by the receiver.
    while (!(push.stats().succeeded >= 2 && ours(sent[push.stats().succeeded - 1]))) {
      if (Date.now() > deadline) assert.fail(`no push with ${NAME}: ${JSON.stringify(push.stats())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await push.stop();
    collector.close();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.deepEqual(errors, []);
  // Every push the receiver got was a collect, in order; compare the last one taken.
  const index = push.stats().succeeded - 1;
  const exposition = sent[index];
  const body = bodies[index];
  assert.ok(exposition && body);
  const request = decodeMetricsRequest(body);

  const resource = request.resourceMetrics.find(
    (r) => attributeRecord(r.resource.attributes)['hvkit.vm.name'] === NAME,
  );
  assert.ok(resource, 'a resource for the domain');
  const attrs = attributeRecord(resource.resource.attributes);
  assert.equal(attrs['process.pid'], BigInt(host.pid));
  assert.equal(attrs['hvkit.domid'], BigInt(domid));
  assert.equal(typeof attrs['hvkit.vm.key'], 'string');
  assert.equal(typeof attrs['hvkit.unique_id'], 'string');
  // The base name of /proc/PID/exe: the host is a node process of ours.
  assert.equal(attrs['process.executable.name'], basename(realpathSync(process.execPath)));
  assert.equal(attrs['process.command'], process.execPath);
  assert.equal(typeof attrs['host.name'], 'string');

  const decoded = new Map<string, Metric>((resource.scopeMetrics[0]?.metrics ?? []).map((m) => [m.name, m]));
  let histograms = 0;
  let observed = 0;
  for (const family of exposition.families) {
    const points = family.points.filter((p) => p.labels.some(([k, v]) => k === 'vm' && v === NAME));
    if (points.length === 0) continue;
    const m = decoded.get(family.name);
    assert.ok(m, family.name);
    points.forEach((point, i) => {
      if (family.type === 'counter') {
        assert.equal(m.sum?.aggregationTemporality, CUMULATIVE);
        assert.equal(m.sum?.isMonotonic, true);
        assert.equal(m.sum?.dataPoints[i]?.startTimeUnixNano, String(BigInt(point.startMs) * 1_000_000n));
      }
      const numberPoint = (family.type === 'counter' ? m.sum : m.gauge)?.dataPoints[i];
      if (family.type !== 'histogram') {
        assert.ok(numberPoint, `${family.name}[${i}]`);
        const raw = point.value ?? -1n;
        const { base, exponent } = family.scale;
        const factor = BigInt(base) ** BigInt(Math.abs(exponent));
        if (numberPoint.asInt !== undefined) {
          const v = BigInt(numberPoint.asInt);
          assert.ok(exponent >= 0 ? raw * factor === v : raw === v * factor, `${family.name}: ${raw} is ${v}`);
        } else {
          assert.equal(
            numberPoint.asDouble,
            base === 10 ? Number.parseFloat(`${raw}e${exponent}`) : Number(raw) * 2 ** exponent,
          );
        }
        return;
      }
      const buckets = point.histogram?.buckets ?? [];
      const count = String(buckets.reduce((a, b) => a + b, 0n));
      if (family.shape?.kind === 'log2') {
        histograms++;
        const p = m.exponentialHistogram?.dataPoints[i];
        assert.ok(p, `${family.name}[${i}]`);
        assert.equal(p.scale ?? 0, 0);
        assert.equal(p.count, count);
        assert.equal(BigInt(p.zeroCount ?? '0'), buckets[0] ?? 0n);
        const shift = family.scale.base === 2 ? family.scale.exponent : 0;
        const back = buckets.map(() => 0n);
        back[0] = BigInt(p.zeroCount ?? '0');
        (p.positive?.bucketCounts ?? []).forEach((c, j) => {
          back[(p.positive?.offset ?? 0) + j + 1 - shift] = BigInt(c);
        });
        assert.deepEqual(back, buckets, `${family.name}: the kernel buckets, exactly`);
        if (buckets.slice(1).some((b) => b > 0n)) observed++;
      } else {
        const p = m.histogram?.dataPoints[i];
        assert.ok(p);
        assert.equal(p.count, count);
        assert.deepEqual((p.bucketCounts ?? []).map(BigInt), buckets);
      }
    });
  }
  assert.ok(histograms > 0, 'the domain has log2 histograms');
  assert.ok(observed > 0, 'and the running workload put observations in their positive buckets');
});
