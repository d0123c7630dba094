/**
 * Numbers on the command line: every numeric option and argument has explicit limits, checked
 * exactly (no rounding of huge values into range, no Node warnings), and a bad value is a usage
 * error — exit 2, one line naming the option, its limits and the value as typed — before any host
 * is contacted or any VM started.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseBigInteger, parseInteger, U64 } from '../../src/cli/commands/args.ts';
import { UsageError } from '../../src/errors.ts';

/** `hvkit ARGS` as a user runs it, without blocking: the cases of a test run side by side. */
function hvkitAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/hvkit.mjs', ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Runs `hvkit ARGS` and asserts a usage error of one line holding every `wanted` text. */
async function assertUsage(args: string[], ...wanted: string[]): Promise<void> {
  const r = await hvkitAsync(args);
  assert.doesNotMatch(r.err, /\n\s+at /, `no stack trace on stderr: ${r.err}`);
  assert.equal(r.code, 2, `hvkit ${args.join(' ')}: exit ${r.code}, stderr ${r.err}`);
  assert.equal(r.out, '', `hvkit ${args.join(' ')}: nothing on stdout`);
  const lines = r.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `hvkit ${args.join(' ')}: one line on stderr, got ${JSON.stringify(r.err)}`);
  for (const w of wanted) assert.ok(lines[0]!.includes(w), `hvkit ${args.join(' ')}: "${lines[0]}" names ${w}`);
}

type Case = [args: string[], ...wanted: string[]];
const all = (cases: Case[]) => Promise.all(cases.map(([args, ...wanted]) => assertUsage(args, ...wanted)));

describe('top', () => {
  it('--interval beyond an hour is refused, no TimeoutOverflowWarning', async () => {
    await assertUsage(['top', '--once', '--interval', '99999999999'], '--interval', '100..3600000 ms', '"99999999999"');
  });
  it('--interval below 100 ms, zero, or not a number; --count out of range', async () => {
    await all([
      ...['99', '0', '-5', '1.5', 'abc', '1e3', ''].map(
        (bad): Case => [['top', '--once', '--interval', bad], '--interval', '100..3600000 ms'],
      ),
      ...['0', '1000000001', '99999999999999999999999'].map(
        (bad): Case => [['top', '--count', bad], '--count', '1..1000000000', `"${bad}"`],
      ),
    ]);
  });
});

describe('demo', () => {
  it('every numeric option has limits', async () => {
    await all([
      [['demo', '--seconds', '0'], '--seconds', '1..86400 s'],
      [['demo', '--seconds', '99999999999'], '--seconds', '1..86400 s'],
      [['demo', '--interval', '1'], '--interval', '100..3600000 ms'],
      [['demo', '--recreate-every', '0'], '--recreate-every', '100..3600000 ms'],
      [['demo', '--vcpus', '0'], '--vcpus', '1..32'],
      [['demo', '--memory', '4097'], '--memory', '1..4096 MiB'],
    ]);
  });
});

describe('host', () => {
  it('every numeric option has limits (checked before the host starts)', async () => {
    await all([
      [['host', '--domains', '99999999'], '--domains', '0..32767'],
      [['host', '--vcpus', '33'], '--vcpus', '1..32'],
      [['host', '--memory', '0'], '--memory', '1..4096 MiB'],
      [['host', '--peer-timeout', '0'], '--peer-timeout', '86400'],
      [['host', '--verify-timeout', '86401'], '--verify-timeout', '86400'],
    ]);
  });
});

describe('ctl', () => {
  const create = ['ctl', 'create', '--memory', '4', '--workload', 'compute'];
  it('create --vcpus 0 and -1 are the same usage error (exit 2), naming the limits', async () => {
    await all([
      [[...create, '--vcpus', '0'], '--vcpus', '1..32', '"0"'],
      [[...create, '--vcpus', '-1'], '--vcpus', '1..32', '"-1"'],
      [[...create, '--vcpus', '33'], '--vcpus', '1..32', '"33"'],
      [['ctl', 'create', '--vcpus', '1', '--memory', '0', '--workload', 'compute'], '--memory', '1..4096 MiB'],
    ]);
  });
  it('a domid past u64 is named exactly as typed, not rounded; --host takes a pid', async () => {
    await all([
      [['ctl', 'save', '18446744073709551616', 'x.stream'], 'DOMID', '1..32767', '"18446744073709551616"'],
      [['ctl', 'migrate', '18446744073709551615', '--to', 'x.sock'], 'DOMID', '"18446744073709551615"'],
      [['ctl', 'destroy', '0'], 'DOMID', '1..32767', '"0"'],
      [['ctl', 'pause', '32768'], 'DOMID', '1..32767'],
      [['ctl', 'pools', '32768'], 'DOMID', '0..32767'],
      [['ctl', '--host', '0', 'list'], '--host', '1..4194304'],
      [['ctl', '--host', '99999999999999999999', 'save', '1', 'x'], '--host', '"99999999999999999999"'],
    ]);
  });
});

describe('other commands', () => {
  it('check --interval, kvm capture --vcpus and tour --vcpus have limits', async () => {
    await all([
      [['check', '--interval', '60001', 'x'], '--interval', '0..60000 ms'],
      [['kvm', 'capture', '--out', 'x', '--vcpus', '0'], '--vcpus', '1..64'],
      [['tour', '--vcpus', '65'], '--vcpus', '1..64'],
    ]);
  });
});

describe('the parser', () => {
  const limits = { min: 100n, max: 3_600_000n };
  it('accepts exactly the decimal numbers within the limits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 80n }), (n) => {
        const text = String(n);
        const inside = n >= limits.min && n <= limits.max;
        try {
          assert.equal(parseBigInteger('--x', text, limits), n);
          assert.ok(inside, `${text} accepted`);
        } catch (error) {
          assert.ok(error instanceof UsageError, String(error));
          assert.ok(!inside, `${text} refused`);
          assert.equal(error.message, `--x must be a whole number in 100..3600000 (got "${text}")`);
        }
      }),
    );
  });
  it('refuses anything that is not plain decimal digits', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^\d+$/.test(s)),
        (text) => {
          assert.throws(() => parseInteger('--n', text, { min: 0, max: 10 }), UsageError);
        },
      ),
    );
  });
  it('u64 values survive exactly', () => {
    assert.equal(parseBigInteger('ID', '18446744073709551615', U64), 0xffff_ffff_ffff_ffffn);
    assert.throws(() => parseBigInteger('ID', '18446744073709551616', U64), /"18446744073709551616"/);
  });
});
