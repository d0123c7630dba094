/**
 * A seqlock read that never settled (`seq-odd`) may be a writer descheduled mid-update, not a
 * broken producer: the live checker reports it only when two consecutive samples of a subject see
 * the same field torn. Every other rule is reported the first time it is seen.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Violation } from '../../src/errors.ts';
import { confirmTransient } from '../../src/tools/live-check/live-checker.ts';

const violation = fc.record({
  field: fc.constantFrom('vcpu[0].vmm.seq', 'vcpu[1].exits.seq', 'dom.sched.seq', 'header.magic'),
  rule: fc.constantFrom('seq-odd', 'bad-magic', 'counter-went-down'),
  severity: fc.constantFrom('error' as const, 'warning' as const),
  message: fc.constant('…'),
});

test('a transient rule is reported iff the previous sample saw the same field and rule; others at once', () => {
  fc.assert(
    fc.property(fc.array(fc.array(violation, { maxLength: 6 }), { minLength: 1, maxLength: 8 }), (samples) => {
      let pending = new Set<string>();
      let previous: Violation[] = [];
      for (const sample of samples) {
        const out = confirmTransient(sample, pending);
        const expected = sample.filter(
          (v) => v.rule !== 'seq-odd' || previous.some((p) => p.rule === 'seq-odd' && p.field === v.field),
        );
        assert.deepEqual(out.report, expected);
        pending = out.pending;
        previous = sample;
      }
    }),
  );
});

test('a writer stuck odd is reported at its second sample; a torn read that settles never is', () => {
  const torn: Violation = { field: 'vcpu[0].vmm.seq', rule: 'seq-odd', severity: 'error', message: 'never settled' };
  const first = confirmTransient([torn], new Set());
  assert.deepEqual(first.report, []);
  assert.deepEqual(confirmTransient([torn], first.pending).report, [torn]);
  const settled = confirmTransient([], first.pending);
  assert.deepEqual(settled.report, []);
  assert.deepEqual(confirmTransient([torn], settled.pending).report, [], 'torn again later: a new first time');
});
