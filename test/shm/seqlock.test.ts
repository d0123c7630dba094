import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seqBegin, seqEnd, seqReadInto } from '../../src/shm/seqlock.ts';

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
