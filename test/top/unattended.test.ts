import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EnvironmentError, FormatError } from '../../src/errors.ts';
import { CSV_COLUMNS, csvField, csvLine } from '../../src/tools/top/csv.ts';
import { runTop, type TopOptions } from '../../src/tools/top/run.ts';
import { Capture, counter, event, log2Hist, ScriptedSource, sample, vm } from './fixtures/samples.ts';

const BIG = 2n ** 64n - 3n; // above 2^53: a double would round it

/** Sample n: two VMs; exits grow by 100 (web) and 10 per sample; unique id above 2^53. */
function script(n: number) {
  return sample(
    n,
    [
      vm({
        key: 'hvkit:1',
        name: 'web, "front"',
        pid: 42,
        domid: 3,
        uniqueId: BIG,
        vcpus: [
          [counter('exits', BIG - 1000n + 100n * BigInt(n)), log2Hist('vmm.exit_latency_hist', [0n, BigInt(n), 0n])],
          [counter('exits', 0n)],
        ],
      }),
      vm({ key: 'pid:7:1:kvm-7', name: 'qemu', pid: 7, owner: 'other', vcpus: [[counter('exits', 10n * BigInt(n))]] }),
    ],
    n === 1 ? [event('created', 'hvkit:1', 'domid 3')] : [],
  );
}

async function run(options: TopOptions) {
  const source = new ScriptedSource(script);
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runTop(source, { intervalMs: 100, ...options }, { stdout, stderr });
  return { code, out: stdout.text, err: stderr.text, source };
}

test('--once: one plain screen after two samples, no escape codes', async () => {
  const r = await run({ once: true });
  assert.equal(r.code, 0);
  assert.equal(r.source.taken, 2);
  assert.equal(r.source.closed, true);
  assert.ok(!r.out.includes('\u001b'), 'no escape codes');
  assert.match(r.out, /^hvkit top · 2 VMs, 3 vCPUs/);
  assert.match(r.out, /web, "front" +42 +3 .*100/);
  assert.equal((r.out.match(/^hvkit top/gm) ?? []).length, 1);
});

test('plain stream: one screen per sample, --count stops it; --filter and --sort apply', async () => {
  const r = await run({ count: 3, filter: 'qem', sort: 'name:asc' });
  assert.equal(r.code, 0);
  assert.equal(r.source.taken, 3);
  assert.equal((r.out.match(/^hvkit top/gm) ?? []).length, 3);
  assert.doesNotMatch(r.out, /front/);
  assert.match(r.out, /sort NAME↑ · filter \/qem\//);
});

test('--json --once: one document; u64 values above 2^53 are exact decimal strings', async () => {
  const r = await run({ json: true, once: true });
  assert.equal(r.code, 0);
  const doc = JSON.parse(r.out);
  const web = doc.vms.find((v: { key: string }) => v.key === 'hvkit:1');
  assert.equal(web.uniqueId, BIG.toString());
  assert.equal(web.vcpus[0].stats[0].value, (BIG - 900n).toString());
  assert.equal(web.vcpus[0].stats[0].delta, '100');
  assert.equal(web.exitsTotal, (BIG - 900n).toString());
  assert.equal(typeof web.rates.exits, 'number');
  assert.equal(doc.events[0].kind, 'created');
  assert.equal(doc.intervalNs, '1000000000');
  assert.deepEqual(web.histograms[0].interval.p50, { lower: '1', upper: '2' });
});

test('--json stream: one JSON document per line per sample', async () => {
  const r = await run({ json: true, count: 3 });
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  const docs = lines.map((l) => JSON.parse(l));
  assert.equal(docs[0].intervalNs, null, 'the first sample has no interval and no rates');
  assert.deepEqual(docs[0].vms[0].rates, {});
  assert.equal(docs[2].vms.find((v: { key: string }) => v.key === 'pid:7:1:kvm-7').rates.exits, 10);
});

test('CSV quoting follows RFC 4180', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(' pad'), '" pad"');
  assert.equal(csvLine(['a', 'b,c', '']), 'a,"b,c",\r\n');
});

/** A minimal RFC 4180 parser for the assertions (quoted fields may hold commas, quotes, newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

test('--csv: header once, one row per VM per sample, exact u64, quoted names', async () => {
  const r = await run({ csv: true, count: 3 });
  const rows = parseCsv(r.out);
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  assert.equal(rows.filter((x) => x[0] === 'timestamp').length, 1, 'header once');
  assert.equal(rows.length, 1 + 3 * 2);
  const col = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
  const last = rows.filter((x) => x[col('key')] === 'hvkit:1').at(-1)!;
  assert.equal(last[col('name')], 'web, "front"');
  assert.equal(last[col('unique_id')], BIG.toString());
  assert.equal(last[col('exits_total')], (BIG - 800n).toString());
  assert.equal(last[col('pid')], '42');
  assert.equal(last[col('domid')], '3');
  assert.equal(last[col('level')], 'vm');
  assert.match(last[col('timestamp')]!, /^\d{4}-\d\d-\d\dT/);
  const first = rows[1]!;
  assert.equal(first[col('exits_per_s')], '', 'no rate before the second sample');
});

test('--csv --vcpus adds a row per vCPU after each VM', async () => {
  const r = await run({ csv: true, vcpus: true, count: 2, sort: 'name' });
  const rows = parseCsv(r.out).slice(1);
  const levelCol = CSV_COLUMNS.indexOf('level');
  const vcpuCol = CSV_COLUMNS.indexOf('vcpu');
  assert.deepEqual(
    rows.slice(0, 5).map((x) => `${x[levelCol]}${x[vcpuCol]}`),
    ['vm', 'vcpu0', 'vm', 'vcpu0', 'vcpu1'],
  );
});

test('--log FILE appends; the header is written only into a new or empty file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-top-'));
  try {
    const file = join(dir, 'top.csv');
    await run({ logFile: file, count: 2 });
    await run({ logFile: file, count: 1 });
    const rows = parseCsv(readFileSync(file, 'utf8'));
    assert.equal(rows.filter((x) => x[0] === 'timestamp').length, 1);
    assert.equal(rows.length, 1 + 3 * 2);
    writeFileSync(join(dir, 'empty.csv'), '');
    await run({ logFile: join(dir, 'empty.csv'), count: 1 });
    assert.match(readFileSync(join(dir, 'empty.csv'), 'utf8'), /^timestamp,/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options are usage errors (exit 2, one line on stderr), and the source is closed', async () => {
  for (const options of [
    { filter: '([' },
    { sort: 'bogus' },
    { sort: 'exits:sideways' },
    { json: true, csv: true },
    { csv: true, logFile: 'x.csv' },
    { intervalMs: 0 },
    { intervalMs: 99, count: 1 },
    { intervalMs: 99_999_999_999, count: 2 }, // past setTimeout's limit: was a warning and a 1 ms loop
    { intervalMs: 150.5, count: 1 },
    { count: 0 },
    { count: 1.5 },
    { count: 1_000_000_001 },
  ] satisfies TopOptions[]) {
    const r = await run(options);
    assert.equal(r.code, 2, JSON.stringify(options));
    assert.match(r.err, /^hvkit top: .+\n$/);
    assert.equal(r.source.closed, true);
    assert.equal(r.out, '');
  }
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-top-'));
  try {
    const r = await run({ logFile: join(dir, 'missing-dir', 'x.csv'), count: 1 });
    assert.equal(r.code, 2);
    assert.match(r.err, /--log/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a source that fails mid-run: exit 2, the error printed, the source closed', async () => {
  const source = new ScriptedSource((n) => {
    if (n === 2) throw new EnvironmentError('stats fd vanished');
    return script(n);
  });
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runTop(source, { intervalMs: 100, csv: true, count: 5 }, { stdout, stderr });
  assert.equal(code, 2);
  assert.equal(stderr.text, 'hvkit top: stats fd vanished\n');
  assert.equal(source.closed, true);
  assert.equal(parseCsv(stdout.text).length, 1 + 2 * 2, 'rows written before the failure stay');
});

test('a failing source exits by the error kind and says it plainly, like every command', async () => {
  const cases: [unknown, number, RegExp][] = [
    [new FormatError('stats-table', 'vcpu[0].halt.seq', 'unstable', 'never stable'), 1, /unstable/],
    [
      Object.assign(new Error("EACCES: permission denied, open '/dev/shm/.x.1234.tmp'"), {
        code: 'EACCES',
        path: '/dev/shm/x',
      }),
      2,
      /^hvkit top: \/dev\/shm\/x: permission denied\n$/,
    ],
    [new TypeError('boom'), 2, /internal error: boom/],
  ];
  for (const [error, code, text] of cases) {
    const source = new ScriptedSource(() => {
      throw error;
    });
    const stdout = new Capture();
    const stderr = new Capture();
    assert.equal(await runTop(source, { intervalMs: 100, once: true }, { stdout, stderr }), code, String(error));
    assert.match(stderr.text, text);
    assert.equal(source.closed, true);
  }
});
