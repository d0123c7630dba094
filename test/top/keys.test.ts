import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  applyKey,
  INTERVAL_LIMITS_MS,
  initialState,
  KEY,
  splitKeys,
  stepInterval,
  type ViewState,
} from '../../src/tools/top/state.ts';

const vms = ['a', 'b', 'c'];

function press(state: ViewState, ...keys: string[]): ViewState {
  for (const k of keys) state = applyKey(state, k, vms).state;
  return state;
}

test('raw input splits into keys; escape sequences stay whole', () => {
  assert.deepEqual(splitKeys('q'), ['q']);
  assert.deepEqual(splitKeys('\u001b[A\u001b[Bx\u001b'), [KEY.up, KEY.down, 'x', KEY.esc]);
  assert.deepEqual(splitKeys('/we\r'), ['/', 'w', 'e', '\r']);
});

test('q and Ctrl-C quit, also while typing a filter', () => {
  const s = initialState({ intervalMs: 1000 });
  assert.equal(applyKey(s, 'q', vms).quit, true);
  assert.equal(applyKey(s, KEY.ctrlC, vms).quit, true);
  assert.equal(applyKey(press(s, '/'), KEY.ctrlC, vms).quit, true);
  assert.equal(applyKey(press(s, '/'), 'q', vms).quit, undefined, 'q is a letter of the pattern');
});

test('s cycles the sort column, S reverses it', () => {
  const s = initialState({ intervalMs: 1000 });
  assert.deepEqual(s.sort, { column: 'exits', descending: true });
  assert.deepEqual(press(s, 's').sort, { column: 'halt', descending: true });
  assert.deepEqual(press(s, 'S').sort, { column: 'exits', descending: false });
  let t = s;
  for (let i = 0; i < 9; i++) t = press(t, 's');
  assert.equal(t.sort.column, 'exits', 'the cycle comes back');
});

test('/ edits a filter: Enter applies, Esc cancels, backspace deletes, invalid regex is an error line', () => {
  const s = initialState({ intervalMs: 1000 });
  assert.equal(press(s, '/', 'w', 'e', 'b', KEY.backspace, KEY.enter).filter, 'we');
  const cancelled = press(s, '/', 'x', KEY.esc);
  assert.equal(cancelled.filter, '');
  assert.equal(cancelled.editing, undefined);
  const bad = press(s, '/', '(', KEY.enter);
  assert.equal(bad.filter, '(');
  assert.match(bad.filterError ?? '', /invalid filter/);
  assert.equal(
    press(bad, '/', KEY.backspace, KEY.enter).filterError,
    undefined,
    'clearing the pattern clears the error',
  );
});

test('↑/↓ select a VM, v or Enter drills into it and back', () => {
  const s = initialState({ intervalMs: 1000 });
  assert.equal(press(s, KEY.down).selected, 'a');
  assert.equal(press(s, KEY.down, KEY.down, KEY.down, KEY.down).selected, 'c');
  assert.equal(press(s, KEY.down, KEY.down, KEY.up).selected, 'a');
  const drilled = press(s, KEY.down, KEY.down, 'v');
  assert.deepEqual([drilled.level, drilled.selected], ['vcpu', 'b']);
  assert.equal(press(drilled, KEY.enter).level, 'vm');
  assert.equal(press(drilled, KEY.esc).level, 'vm');
  assert.deepEqual(
    [press(s, KEY.enter).level, press(s, KEY.enter).selected],
    ['vcpu', 'a'],
    'no selection: the first VM',
  );
  assert.equal(applyKey(s, 'v', []).state.level, 'vm', 'nothing to drill into');
});

test('p pauses and resumes, +/- step the interval, h shows help until the next key', () => {
  const s = initialState({ intervalMs: 1000 });
  assert.equal(press(s, 'p').paused, true);
  assert.equal(press(s, 'p', 'p').paused, false);
  const slower = applyKey(s, '+', vms);
  assert.deepEqual([slower.state.intervalMs, slower.intervalChanged], [2000, true]);
  assert.equal(press(s, '-', '-').intervalMs, 250);
  assert.equal(stepInterval(10000, 1), 10000);
  assert.equal(stepInterval(100, -1), 100);
  assert.equal(stepInterval(700, -1), 500);
  const help = press(s, 'h');
  assert.equal(help.help, true);
  assert.equal(press(help, 's').help, false);
  assert.equal(press(help, 's').sort.column, 'exits', 'the key that closes help does nothing else');
});

test('+ and - keep the interval within its limits, from any start within them', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: INTERVAL_LIMITS_MS.min, max: INTERVAL_LIMITS_MS.max }),
      fc.array(fc.constantFrom('+', '-', '=', '_'), { maxLength: 30 }),
      (start, keys) => {
        let state = initialState({ intervalMs: start });
        for (const k of keys) {
          state = applyKey(state, k, vms).state;
          assert.ok(state.intervalMs >= INTERVAL_LIMITS_MS.min && state.intervalMs <= INTERVAL_LIMITS_MS.max);
        }
      },
    ),
  );
  assert.equal(stepInterval(INTERVAL_LIMITS_MS.max, 1), INTERVAL_LIMITS_MS.max);
  assert.equal(stepInterval(INTERVAL_LIMITS_MS.max, -1), 10000);
});
