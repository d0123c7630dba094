/**
 * Whole-read bounds on the domain directory: a hostile directory whose every entry's sequence
 * word stays odd costs a scan (list(), the checker) a bounded number of retries in all, not
 * entries × the per-entry bound, and is reported unstable naming the entry being read. A single
 * entry() read keeps its own per-entry bound and reports the entry torn.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.ts';
import { checkDomainDirectory } from '../../src/formats/domstate/checker.ts';
import { DomainDirectoryReader } from '../../src/formats/domstate/reader.ts';
import { DEFAULT_MAX_RETRIES, DEFAULT_READ_RETRIES } from '../../src/shm/seqlock.ts';
import { ABI, freshDirectory } from './helpers.ts';

/** A directory with every entry's sequence word odd. */
function hostile() {
  const { region, writer } = freshDirectory();
  const base = writer.layout.entriesOffs / 4;
  const stride = writer.layout.entryStride / 4;
  for (let i = 0; i < writer.layout.nrEntries; i++) region.words[base + i * stride] = 1;
  return { region, entries: writer.layout.nrEntries };
}

function unstable(e: unknown): e is FormatError {
  return e instanceof FormatError && e.rule === 'unstable';
}

test('every entry odd: list() stops after the whole-read budget and throws unstable', () => {
  const { region, entries } = hostile();
  assert.ok(entries * DEFAULT_MAX_RETRIES > 100 * DEFAULT_READ_RETRIES, `${entries} entries`);
  const reader = DomainDirectoryReader.open(region, ABI);
  let error: unknown;
  try {
    reader.list();
  } catch (e) {
    error = e;
  }
  assert.ok(unstable(error), `expected an unstable FormatError, got ${error}`);
  assert.ok(Number(error.value) <= DEFAULT_READ_RETRIES, `${error.value} retries`);
  assert.match(error.field, /^entry\[\d+\]\.seq$/);
  assert.match(error.message, /test-directory kept changing/);
  // One entry read alone: its own bound, reported torn (no scan to stop).
  assert.equal(reader.entry(7).torn, true);
  region.close();
});

test('every entry odd: the checker reports unstable once, after a bounded number of torn entries', () => {
  const { region } = hostile();
  const r = checkDomainDirectory(region, ABI, { maxRetries: 100, maxReadRetries: 1000 });
  const rules = r.violations.map((v) => v.rule);
  assert.equal(rules.filter((x) => x === 'unstable').length, 1);
  assert.ok(rules.filter((x) => x === 'seq-odd').length <= 10, rules.join(', '));
  const found = r.violations.find((v) => v.rule === 'unstable')!;
  assert.equal(found.value, '1000');
  region.close();
});
