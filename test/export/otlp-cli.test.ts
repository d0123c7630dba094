/**
 * `hvkit export --otlp`: the CLI pushes the host's VMs over OTLP/HTTP. A real `hvkit host` (sim
 * backend) runs two named domains; `hvkit export` runs as a child process pushing every second to
 * a receiver on loopback, which decodes the pushes with the official OTLP definitions and finds
 * each domain as a resource with its identity attributes. Also: a collector that is not there is
 * one stderr line, however many pushes fail; bad options are usage errors.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { ctl, json, type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { attributeRecord, decodeMetricsRequest, type MetricsRequest } from './otlp-decode.ts';

const ENTRY = ['--import', 'tsx', 'test/ctl/hvkit-entry.ts'];
const NAMES = [`ocli-a-${process.pid}`, `ocli-b-${process.pid}`]; // names hold 15 bytes at most
let host: Started | undefined;
const domids = new Map<string, number>();

before(async () => {
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '0']);
  for (const name of NAMES) {
    const d = json<{ domid: number }>(
      ctl(host.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'compute', '--name', name, '--json']),
    );
    domids.set(name, d.domid);
  }
});

after(async () => {
  if (host) await stopHost(host);
});

interface Exporter {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startExporter(args: string[], loadLog?: string): Promise<Exporter> {
  const hook = loadLog === undefined ? [] : ['--import', './test/export/fixtures/log-loads-register.mjs'];
  const child = spawn(process.execPath, [...hook, ...ENTRY, 'export', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(loadLog === undefined ? {} : { HVKIT_TEST_LOAD_LOG: loadLog }) },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hvkit export exited with ${code}: ${err}`)));
  });
  assert.match(line, /^hvkit export: serving http:\/\/127\.0\.0\.1:\d+\//);
  return { child, url: line.replace(/^hvkit export: serving /, ''), stderr: () => err, exited };
}

/** A receiver that keeps every decoded push (OTLP/HTTP protobuf, answered with an empty 200). */
async function startReceiver(): Promise<{ server: Server; url: string; pushes: MetricsRequest[]; paths: string[] }> {
  const pushes: MetricsRequest[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      pushes.push(decodeMetricsRequest(Buffer.concat(chunks)));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`, pushes, paths };
}

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + hangDeadline(ms);
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(exporter: Exporter): Promise<number | null> {
  exporter.child.kill('SIGTERM');
  return exporter.exited;
}

test('hvkit export --otlp pushes every domain of the host as a resource with its identity', async () => {
  assert.ok(host);
  const receiver = await startReceiver();
  const exporter = await startExporter(['--otlp', receiver.url, '--otlp-interval', '1', '--pid', String(host.pid)]);
  const resourcesOf = (push: MetricsRequest) =>
    push.resourceMetrics.map((r) => ({ attrs: attributeRecord(r.resource.attributes), metrics: r.scopeMetrics }));
  const hasBoth = (push: MetricsRequest | undefined) =>
    push !== undefined && NAMES.every((n) => resourcesOf(push).some((r) => r.attrs['hvkit.vm.name'] === n));
  try {
    // Two pushes with both domains: the loop keeps pushing, not just once.
    await until('two pushes with both domains', () => receiver.pushes.filter(hasBoth).length >= 2, 30_000);
  } finally {
    assert.equal(await stop(exporter), 0, exporter.stderr());
    await new Promise((resolve) => receiver.server.close(resolve));
  }
  assert.equal(exporter.stderr(), '', 'nothing on stderr while the collector takes the pushes');
  assert.match(receiver.paths[0] ?? '', /^POST \/v1\/metrics application\/x-protobuf$/);
  const push = receiver.pushes.filter(hasBoth).at(-1)!;
  for (const name of NAMES) {
    const resource = resourcesOf(push).find((r) => r.attrs['hvkit.vm.name'] === name);
    assert.ok(resource, name);
    assert.equal(resource.attrs['process.pid'], BigInt(host.pid));
    assert.equal(resource.attrs['hvkit.domid'], BigInt(domids.get(name)!));
    assert.equal(typeof resource.attrs['hvkit.vm.key'], 'string');
    assert.equal(typeof resource.attrs['host.name'], 'string');
    const metrics = resource.metrics.flatMap((s) => s.metrics);
    assert.ok(
      metrics.some((m) => m.exponentialHistogram !== undefined),
      `${name}: its log2 histograms as exponential histograms`,
    );
    assert.ok(
      metrics.some((m) => m.sum !== undefined),
      `${name}: its counters as sums`,
    );
  }
});

/** A loopback port with nothing listening on it (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('hvkit export --otlp to a collector that is not there: one stderr line, the endpoint keeps serving', async () => {
  assert.ok(host);
  const url = `http://127.0.0.1:${await deadPort()}/v1/metrics`;
  const exporter = await startExporter(['--otlp', url, '--otlp-interval', '0.2', '--pid', String(host.pid)]);
  try {
    await until('the failure on stderr', () => exporter.stderr().includes('\n'), 20_000);
    // Several more intervals fail the same way: still one line.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const scrape = await fetch(new URL('/metrics', exporter.url));
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /hvkit_export_/);
  } finally {
    assert.equal(await stop(exporter), 0, exporter.stderr());
  }
  const lines = exporter.stderr().trimEnd().split('\n');
  assert.equal(lines.length, 1, exporter.stderr());
  assert.match(lines[0]!, /^hvkit: OTLP push to http:\/\/127\.0\.0\.1:\d+\/v1\/metrics: .*refused/i);
});

test('plain hvkit export does not load the OTLP modules; with --otlp it does', async () => {
  assert.ok(host);
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-otlp-cli-'));
  const OTLP = /\/src\/(tools\/export\/otlp[^/]*|formats\/exposition\/otlp[^/]*)\.ts$/;
  try {
    const loaded = async (args: string[]) => {
      const log = join(dir, `loads-${args.length}`);
      const exporter = await startExporter(['--pid', String(host!.pid), ...args], log);
      assert.equal(await stop(exporter), 0, exporter.stderr());
      return readFileSync(log, 'utf8').split('\n');
    };
    const plain = await loaded([]);
    assert.ok(
      plain.some((u) => u.endsWith('/src/tools/export/collector.ts')),
      'the log sees the exporter load its modules',
    );
    assert.deepEqual(
      plain.filter((u) => OTLP.test(u)),
      [],
    );
    const receiver = await startReceiver();
    try {
      const withOtlp = await loaded(['--otlp', receiver.url]);
      assert.ok(withOtlp.some((u) => u.endsWith('/src/tools/export/otlp-push.ts')));
    } finally {
      await new Promise((resolve) => receiver.server.close(resolve));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hvkit export: a bad --otlp URL or --otlp-interval is a usage error (exit 2, one line)', () => {
  for (const args of [
    ['--otlp', 'not a url'],
    ['--otlp', 'https://127.0.0.1:4318/v1/metrics'],
    ['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '0'],
    ['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '-1'],
    ['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', 'soon'],
    ['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '86401'],
  ]) {
    const r = spawnSync(process.execPath, [...ENTRY, 'export', '--listen', '127.0.0.1:0', ...args], {
      encoding: 'utf8',
      timeout: hangDeadline(30_000),
    });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^hvkit: [^\n]*--otlp[^\n]*\n$/, args.join(' '));
  }
});
