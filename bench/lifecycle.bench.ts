/**
 * Finding the changed domains of the lifecycle feed: 10 changed domids among 32768.
 *
 *  summary  ChangeBitmap.take() ten times: three count-trailing-zeros per domid through the two
 *           summary levels, whatever the number of clear bits (O(changes)).
 *  scan     the peer: a full scan of the 1024 words of the same 4 KiB bitmap, extracting the
 *           set bits of every non-zero word (O(domids)) — what a consumer does without summaries.
 *
 * Both start from the same ten bits (spread over the range) and end with an empty bitmap.
 */
import { bench, do_not_optimize, run, summary } from 'mitata';
import { ChangeBitmap, lowestBit } from '../src/host/change-bitmap.ts';

const CHANGED = [3, 70, 1500, 4097, 9000, 15000, 20001, 27000, 31000, 32767];
const map = new ChangeBitmap();
const found = new Int32Array(CHANGED.length);

function setAll(): void {
  for (const d of CHANGED) map.set(d);
}

function withSummary(): number {
  setAll();
  let n = 0;
  for (let d = map.take(); d >= 0; d = map.take()) found[n++] = d;
  return n;
}

function fullScan(): number {
  setAll();
  const words = map.words;
  let n = 0;
  for (let w = 0; w < words.length; w++) {
    let word = words[w]!;
    while (word !== 0) {
      const b = lowestBit(word);
      found[n++] = (w << 5) | b;
      word &= word - 1;
    }
    words[w] = 0;
  }
  map.clearAll(); // the summaries too, so that both variants start from the same state
  return n;
}

if (withSummary() !== CHANGED.length || fullScan() !== CHANGED.length) throw new Error('variants disagree');

summary(() => {
  bench('find 10 changed among 32768: summary levels', () => do_not_optimize(withSummary()));
  bench('find 10 changed among 32768: full scan of the bitmap', () => do_not_optimize(fullScan()));
});

const results = await run();
const avg = (name: string) => {
  for (const trial of results.benchmarks) {
    if (trial.alias.includes(name)) return trial.runs[0]?.stats?.avg;
  }
  return undefined;
};
const fast = avg('summary levels');
const slow = avg('full scan');
if (fast !== undefined && slow !== undefined) {
  console.log(
    `\nfull scan / summary levels: ${(slow / fast).toFixed(1)}× (${fast.toFixed(0)} ns vs ${slow.toFixed(0)} ns)`,
  );
}
