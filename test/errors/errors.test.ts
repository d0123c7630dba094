/**
 * The one error tree: every error hvkit raises on purpose has a kind, the kinds map to the exit
 * codes the README promises in one place, and Node's system errors are told as the user's path
 * and a plain cause, never as a raw "ENOENT: …, open '…'" text.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runAll, runAllAsync } from '../../src/calls/dispatcher.ts';
import { exitCodeFor } from '../../src/cli/errors.ts';
import { CallFailed } from '../../src/ctl/api.ts';
import {
  ClosedError,
  describeError,
  EnvironmentError,
  environmentError,
  FormatError,
  InternalError,
  isErrno,
  kindOf,
  UsageError,
} from '../../src/errors.ts';
import { STATUS } from '../../src/formats/callword/constants.ts';
import { ShmFileError } from '../../src/shm/shm-file.ts';

function systemError(): unknown {
  try {
    readFileSync('/nonexistent-hvkit-dir/file');
  } catch (e) {
    return e;
  }
  assert.fail('reading a missing file succeeded');
}

test('kinds map to exit codes in one place: format and refused 1, usage, environment and internal 2', () => {
  const cases: [unknown, string, number][] = [
    [new FormatError('stats-table', 'header.magic', 'magic', 'not a table'), 'format', 1],
    [new UsageError('--interval must be 100..3600000'), 'usage', 2],
    [new EnvironmentError('/dev/kvm: permission denied'), 'environment', 2],
    [new ClosedError('region x'), 'environment', 2],
    [new ShmFileError('/dev/shm/x', 'not-regular-file', 'a FIFO'), 'environment', 2],
    [new InternalError('broken'), 'internal', 2],
    [new CallFailed('domain.pause', STATUS.invalidState), 'refused', 1],
    [new CallFailed('domain.destroy', STATUS.noSuchDomain), 'refused', 1],
    [new CallFailed('domain.create', STATUS.badArgument), 'usage', 2],
    [new CallFailed('domain.create', STATUS.busy), 'environment', 2],
    [new CallFailed('domain.create', STATUS.internalError), 'internal', 2],
    [new CallFailed('x.y', -99), 'internal', 2],
    [systemError(), 'environment', 2],
    [new TypeError('x is undefined'), 'internal', 2],
    ['a string', 'internal', 2],
  ];
  for (const [error, kind, code] of cases) {
    assert.equal(kindOf(error), kind, String(error));
    assert.equal(exitCodeFor(error), code, String(error));
  }
});

test('one spelling of closed: "<what> is closed"', () => {
  const e = new ClosedError('vcpu 3');
  assert.equal(e.message, 'vcpu 3 is closed');
  assert.equal(e.what, 'vcpu 3');
});

test('system errors are told as the path and a plain cause, without the errno name twice', () => {
  const text = describeError(systemError());
  assert.equal(text, '/nonexistent-hvkit-dir/file: no such file or directory');
  const wrapped = environmentError('the file you named', systemError());
  assert.ok(wrapped instanceof EnvironmentError);
  assert.equal((wrapped as Error).message, 'the file you named: no such file or directory');
  assert.ok(isErrno(systemError(), 'ENOENT'));
  assert.equal(isErrno(new Error('x'), 'ENOENT'), false);
  // Not a system error: returned as it is (a defect must not be dressed as the environment's).
  const bug = new TypeError('bug');
  assert.equal(environmentError('x', bug), bug);
  assert.match(describeError(bug), /^internal error: bug$/);
  assert.match(describeError(new InternalError('lost a constant')), /^internal error: lost a constant$/);
});

test('a call refused for a bad argument says what was sent when the caller knows', () => {
  const e = new CallFailed('domain.create', STATUS.badArgument, 'the host refused --vcpus 300');
  assert.equal(e.message, 'domain.create: bad_argument: the host refused --vcpus 300');
});

test('cleanups: every one runs even when some fail, then the failures are thrown, not swallowed', async () => {
  const ran: number[] = [];
  assert.throws(
    () =>
      runAll([
        () => ran.push(1),
        () => {
          throw new Error('first broke');
        },
        () => ran.push(3),
        () => {
          throw new Error('second broke');
        },
      ]),
    (e: unknown) => e instanceof InternalError && /2 cleanup\(s\) failed; the first: first broke/.test(e.message),
  );
  assert.deepEqual(ran, [1, 3]);
  ran.length = 0;
  await assert.rejects(
    runAllAsync([
      async () => {
        throw new Error('async broke');
      },
      async () => {
        ran.push(2);
      },
    ]),
    /1 cleanup\(s\) failed; the first: async broke/,
  );
  assert.deepEqual(ran, [2]);
  runAll([]);
  await runAllAsync([]);
});

test("a reader's refusal becomes a violation whose message is the sentence alone (printed once)", () => {
  const v = new FormatError('stats-table', 'vcpu[0].halt.seq', 'unstable', 'never stable', '4000').toViolation();
  assert.deepEqual(v, {
    field: 'vcpu[0].halt.seq',
    rule: 'unstable',
    value: '4000',
    severity: 'error',
    message: 'never stable',
  });
});
