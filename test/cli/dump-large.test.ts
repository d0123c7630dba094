/**
 * hvkit dump of inputs that are large but valid: a KVM stats file of 65535-bucket histograms and a
 * stats table of thousands of vCPUs. Output is written as it is produced, so the CLI dumps them
 * whole (text and --json) in a 256 MiB heap — building the output as one string would not fit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dumpTarget } from '../../src/tools/dump.ts';
import { dumpToText } from '../../src/tools/dump-text.ts';
import { resolveTarget } from '../../src/tools/target.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { MAX_BUCKETS, writeBigKvmFile, writeBigTableFile } from './large-inputs.ts';
import { hvkitWithin, hvkitWithinEnv } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-dump-large-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A heap far smaller than the whole output of these dumps. */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=256' };
const DEADLINE = hangDeadline(300_000);

const HISTOGRAMS = 8;
const VCPUS = 8000;

function lines(out: string): string[] {
  assert.ok(out.endsWith('\n'), 'output ends with a newline');
  return out.slice(0, -1).split('\n');
}

test('dump of a KVM file of 65535-bucket histograms: every bucket, text and JSON, in a 256 MiB heap', async () => {
  const path = join(dir, 'big.kvm');
  writeBigKvmFile(path, HISTOGRAMS);
  const check = await hvkitWithin(DEADLINE, 'check', path);
  assert.equal(check.code, 0, check.err);

  const text = await hvkitWithinEnv(DEADLINE, SMALL_HEAP, 'dump', path);
  assert.equal(text.code, 0, text.err);
  const all = lines(text.out);
  assert.match(all[0]!, new RegExp(`${HISTOGRAMS} stats`));
  // Title, header, then each histogram's summary row and one row per (non-empty) bucket.
  assert.equal(all.length, 2 + HISTOGRAMS * (1 + MAX_BUCKETS));
  assert.match(all.at(-1)!, /\s1$/);

  const json = await hvkitWithinEnv(DEADLINE, SMALL_HEAP, 'dump', '--json', path);
  assert.equal(json.code, 0, json.err);
  const report = JSON.parse(json.out);
  assert.equal(report.format, 'kvm-stats');
  assert.equal(report.stats.rows.length, HISTOGRAMS);
  for (const row of report.stats.rows) {
    assert.equal(row.raw.length, MAX_BUCKETS);
    assert.equal(row.histogram.total, String(MAX_BUCKETS));
    assert.equal(row.histogram.buckets.length, MAX_BUCKETS);
  }
  assert.equal(report.stats.itemsOmitted, undefined);
});

test(`dump of a stats table of ${VCPUS} vCPUs: every row, text and JSON, in a 256 MiB heap`, async () => {
  const path = join(dir, 'big.table');
  writeBigTableFile(path, VCPUS);
  const check = await hvkitWithin(DEADLINE, 'check', path);
  assert.equal(check.code, 0, check.err);
  // What a dump holds, computed here in full (this process has room) to compare against.
  const expected = dumpToText(dumpTarget(resolveTarget(path, undefined)));

  const text = await hvkitWithinEnv(DEADLINE, SMALL_HEAP, 'dump', path);
  assert.equal(text.code, 0, text.err);
  const all = lines(text.out);
  assert.match(all[0]!, new RegExp(`${VCPUS} vCPUs`));
  assert.equal(all.length, 2 + expected.table.rows.length + expected.notes.length);
  assert.ok(all.some((l) => l.startsWith(`vcpu[${VCPUS - 1}]`)));

  const json = await hvkitWithinEnv(DEADLINE, SMALL_HEAP, 'dump', '--json', path);
  assert.equal(json.code, 0, json.err);
  const report = JSON.parse(json.out);
  assert.equal(report.format, 'stats-table');
  assert.equal(report.layout.nrVcpus, VCPUS);
  const rows = dumpTarget(resolveTarget(path, undefined));
  assert.ok(rows.format === 'stats-table');
  assert.equal(report.rows.length, rows.rows.length);
  assert.equal(report.rows.at(-1).block, `vcpu[${VCPUS - 1}]`);
});

test('dump into a reader that stops early (| head): exit 0 and nothing on stderr, like any filter', () => {
  const path = join(dir, 'head.kvm');
  writeBigKvmFile(path, 2);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script; ${…} is bash's, not a template
  const script = 'node bin/hvkit.mjs dump "$1" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}"';
  const r = spawnSync('bash', ['-c', script, '-', path], {
    encoding: 'utf8',
    timeout: DEADLINE,
  });
  assert.equal(r.stdout.trim(), '0', r.stderr);
  assert.equal(r.stderr, '');
});
