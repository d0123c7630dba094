import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadBudget, seqBegin, seqEnd, seqReadInto } from '../../src/shm/seqlock.ts';

test('begin makes the word odd, end makes it the next even value, across the 2^32 wrap', () => {
  const words = new Uint32Array(4);
  for (const start of [0, 2, 0xffff_fffe]) {
    words[0] = start;
    assert.equal(seqBegin(words, 0), (start + 1) >>> 0);
    assert.equal(words[0]! & 1, 1);
    seqEnd(words, 0);
    assert.equal(words[0], (start + 2) >>> 0);
  }
});

test('a read copies consistently and reports the sequence value', () => {
  const words = new Uint32Array(8);
  const src = new Uint8Array(words.buffer);
  words[0] = 6;
  words[2] = 0xabcdef;
  const dst = new Uint8Array(32);
  const r = seqReadInto(words, 0, src, 8, 8, dst, 8);
  assert.deepEqual(r, { status: 'ok', seq: 6, retries: 0 });
  assert.equal(new Uint32Array(dst.buffer)[2], 0xabcdef);
});

test('a word stuck odd makes the read give up after the bound, without writing', () => {
  const words = new Uint32Array(8);
  words[0] = 7;
  const before = words.slice();
  const r = seqReadInto(words, 0, new Uint8Array(words.buffer), 8, 16, new Uint8Array(32), 8, 10);
  assert.deepEqual(r, { status: 'torn', seq: 7, retries: 10 });
  assert.deepEqual(words, before);
});

test('a whole-read budget is shared by the group reads: once spent, the next retry stops the read as unstable', () => {
  const words = new Uint32Array(64);
  const src = new Uint8Array(words.buffer);
  const dst = new Uint8Array(16);
  for (let g = 0; g < 8; g++) words[g * 8] = 1; // eight groups, every sequence word odd
  const budget = new ReadBudget(25);
  const outcomes = Array.from(
    { length: 8 },
    (_, g) => seqReadInto(words, g * 8, src, g * 32 + 4, 8, dst, 0, 10, budget).status,
  );
  assert.deepEqual(outcomes, ['torn', 'torn', 'unstable', 'unstable', 'unstable', 'unstable', 'unstable', 'unstable']);
  assert.equal(budget.spent, 25);
  // A read that needs no retry spends nothing, budget or not.
  words[0] = 2;
  assert.equal(seqReadInto(words, 0, src, 4, 8, dst, 0, 10, new ReadBudget(0)).status, 'ok');
});
