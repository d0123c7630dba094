/**
 * Whole-read bounds: a hostile table whose every group's sequence word stays odd costs one
 * snapshot a bounded number of retries in all (not groups × the per-group bound) and is reported
 * unstable, naming the group being read when the budget ran out. A large valid table (thousands
 * of vCPUs) is accepted by `hvkit check` and rendered by `hvkit dump`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { checkStatsTable } from '../../src/formats/stats-table/checker.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { DEFAULT_READ_RETRIES } from '../../src/shm/seqlock.ts';
import { hvkitWithin } from '../cli/run.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { type Crafted, craft } from './helpers.ts';

const REV = Math.max(...frozenStatsTableRevisions());
const dir = mkdtempSync(join(tmpdir(), 'hvkit-table-unstable-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A table of `nrVcpus` vCPUs with every group's sequence word odd. */
function hostile(nrVcpus: number): Crafted {
  const c = craft(REV, { nrVcpus, arch: 'x86_64' });
  const reader = StatsTableReader.open(c.region(), statsTableRevision(REV));
  for (const i of reader.readSlots) {
    const s = reader.slots[i]!;
    c.view.setUint32(s.blockStart + s.group.seqOffset, 1, true);
  }
  return c;
}

function unstable(e: unknown): e is FormatError {
  return e instanceof FormatError && e.rule === 'unstable';
}

test('odd sequence words in every group of 1000 vCPUs: the snapshot stops after the whole-read budget, unstable', () => {
  const c = hostile(1000);
  const reader = StatsTableReader.open(c.region(), statsTableRevision(REV));
  assert.ok(reader.readSlots.length > 1000, `${reader.readSlots.length} groups`);
  let error: unknown;
  try {
    reader.snapshot();
  } catch (e) {
    error = e;
  }
  assert.ok(unstable(error), `expected an unstable FormatError, got ${error}`);
  // Retries spent in all: the whole-read budget, not groups × the per-group bound.
  assert.ok(Number(error.value) <= DEFAULT_READ_RETRIES, `${error.value} retries`);
  assert.match(error.field, /^(dom|vcpu\[\d+\])\.\w+\.seq$/);
  assert.match(error.message, /kept changing/);
});

test('a smaller read budget stops the read sooner; the checker reports unstable as a violation', () => {
  const c = hostile(50);
  let error: unknown;
  try {
    StatsTableReader.open(c.region(), statsTableRevision(REV), { maxRetries: 10, maxReadRetries: 25 }).snapshot();
  } catch (e) {
    error = e;
  }
  assert.ok(unstable(error));
  assert.equal(error.value, '25');
  // Two groups torn after 10 retries each, then the third stops at 5.
  assert.match(error.field, /\.seq$/);
  const r = checkStatsTable(c.region(), statsTableRevision(REV));
  const found = r.violations.filter((v) => v.rule === 'unstable');
  assert.equal(found.length, 1);
  assert.ok(Number(found[0]!.value) <= DEFAULT_READ_RETRIES);
});

test('a table of 4000 vCPUs: check accepts it and dump renders every row', async () => {
  const c = craft(REV, { nrVcpus: 4000, arch: 'x86_64' });
  const path = join(dir, 'big.table');
  writeFileSync(path, c.bytes);
  const check = await hvkitWithin(hangDeadline(120_000), 'check', path);
  assert.equal(check.code, 0, check.err);
  const dump = await hvkitWithin(hangDeadline(120_000), 'dump', path);
  assert.equal(dump.code, 0, dump.err);
  assert.match(dump.out, /4000 vCPUs/);
  assert.match(dump.out, /vcpu\[3999\]/);
});
