/**
 * `hvkit check --attach | --all [--watch]` on hvkit's own simulated host (HVKIT_BACKEND=sim: stats
 * tables and the domain directory, no KVM fds), as a user runs it: a clean host, a forged table
 * under another domain's name, a process that is not a VMM, a pid that does not exist, a host
 * that exits in the middle of a check, and --watch printing each violation once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { parseRegionName, statsRegionName } from '../../src/shm/region-names.ts';
import { shmPath } from '../../src/shm/shm-file.ts';
import { hvkit } from '../cli/run.ts';
import { type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';

interface Report {
  vms: {
    pid: number;
    subjects: { kind: string; label: string; samples: number }[];
    violations: { subject: string; field: string; rule: string; severity: string }[];
    unchecked?: string;
    exited: boolean;
    errors: number;
  }[];
  errors: number;
}

let host: Started;
const forged: string[] = [];

before(async () => {
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '1', '--vcpus', '2']);
});

after(async () => {
  for (const name of forged) if (existsSync(shmPath(name))) unlinkSync(shmPath(name));
  await stopHost(host);
});

function hostTables(pid: number): string[] {
  return readdirSync('/dev/shm').filter((n) => parseRegionName(n)?.kind === 'stats' && parseRegionName(n)?.pid === pid);
}

/** A copy of the host's table under the name of a domain that does not exist (same host, other unique id). */
function forgeTable(pid: number): string {
  const real = hostTables(pid)[0]!;
  const parsed = parseRegionName(real)!;
  assert.equal(parsed.kind, 'stats');
  const name = statsRegionName({ pid, startTime: parsed.startTime }, 77, 0xf0f0n);
  copyFileSync(shmPath(real), shmPath(name));
  forged.push(name);
  return name;
}

/** hvkitWithin, also telling the child's pid. */
function hvkitWithinPid(ms: number, ...args: string[]) {
  const child = spawn(process.execPath, ['bin/hvkit.mjs', ...args], { env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (err += c));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hvkit ${args.join(' ')} still running after ${ms} ms`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
  return Object.assign(done, { pid: child.pid! });
}

/** Whether process `reader` has a region of host `pid` mapped. */
function mapsRegionOf(reader: number, pid: number): boolean {
  try {
    return readFileSync(`/proc/${reader}/maps`, 'utf8').includes(`/dev/shm/hvkit.${pid}.`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function unforge(name: string): void {
  unlinkSync(shmPath(name));
  forged.splice(forged.indexOf(name), 1);
}

test('a clean simulated host: its table and directory checked over two samples, exit 0', () => {
  const r = hvkit('check', '--attach', String(host.pid), '--json');
  assert.equal(r.code, 0, r.out + r.err);
  const report = JSON.parse(r.out) as Report;
  assert.equal(report.vms.length, 1);
  const vm = report.vms[0]!;
  assert.equal(vm.pid, host.pid);
  assert.deepEqual(vm.subjects.map((s) => s.kind).sort(), ['domain-directory', 'stats-table']);
  assert.ok(
    vm.subjects.every((s) => s.samples === 2),
    JSON.stringify(vm.subjects),
  );
  assert.deepEqual(vm.violations, []);

  const text = hvkit('check', '--attach', String(host.pid));
  assert.equal(text.code, 0);
  assert.match(
    text.out,
    new RegExp(
      `^pid ${host.pid} \\(\\S+\\): 0 vm \\+ 0 vcpu stats fd\\(s\\), 1 table\\(s\\), 1 directory, 2 sample\\(s\\): valid \\(0 error\\(s\\), 0 warning\\(s\\)\\)$`,
      'm',
    ),
  );
});

test('a table forged under another domain name of the host is an identity-mismatch error, exit 1', () => {
  const name = forgeTable(host.pid);
  try {
    const r = hvkit('check', '--attach', String(host.pid), '--json');
    assert.equal(r.code, 1, r.out + r.err);
    const vm = (JSON.parse(r.out) as Report).vms[0]!;
    const bad = vm.violations.filter((v) => v.subject === `table ${name}`);
    assert.deepEqual(
      bad.map((v) => [v.field, v.rule, v.severity]),
      [['dom.identity', 'identity-mismatch', 'error']],
    );
    // The real table stays clean.
    assert.deepEqual(
      vm.violations.filter((v) => v.subject !== `table ${name}`),
      [],
    );
    const text = hvkit('check', '--attach', String(host.pid));
    assert.match(
      text.out,
      /: table \S+: error: dom\.identity: identity-mismatch: the identity words \(domid 1, unique_id/,
    );
    assert.match(text.out, /INVALID \(1 error\(s\), 0 warning\(s\)\)/);
  } finally {
    unforge(name);
  }
});

test('a process that is not a VMM, a pid that does not exist, and bad arguments: exit 2 with a clear message', async () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const r = hvkit('check', '--attach', String(sleeper.pid));
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(
      r.err,
      new RegExp(
        `^hvkit: process ${sleeper.pid} \\(sleep\\) is not a VMM: it holds no KVM VM fd and no hvkit stats table or domain directory\\n$`,
      ),
    );
  } finally {
    sleeper.kill();
    await new Promise((resolve) => sleeper.once('exit', resolve));
  }
  const gone = hvkit('check', '--attach', `${host.pid},${sleeper.pid}`);
  assert.equal(gone.code, 2);
  assert.match(gone.err, new RegExp(`^hvkit: no such process: ${sleeper.pid}`));
  for (const args of [['--attach', 'x'], ['--attach', '1', '--all'], ['--attach', '1', 'file'], ['--watch']]) {
    const u = hvkit('check', ...args);
    assert.equal(u.code, 2, args.join(' '));
    assert.match(u.err, /^hvkit: /);
  }
});

test('--all finds the simulated host among every VM on the machine', () => {
  const r = hvkit('check', '--all', '--json');
  const report = JSON.parse(r.out) as Report;
  const vm = report.vms.find((v) => v.pid === host.pid);
  assert.ok(vm, `host ${host.pid} listed`);
  assert.deepEqual(vm.violations, []);
  assert.ok(vm.subjects.length >= 2);
  // Processes that may not be looked into (not root) are listed, not held against the verdict.
  const others = report as Report & { skipped: unknown[]; unchecked: number };
  if (others.errors === 0 && others.unchecked === 0) assert.equal(r.code, 0, r.out);
});

test('a host that exits in the middle of a check: reported as exited, what was checked stands', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '1']);
  const check = hvkitWithinPid(
    hangDeadline(60_000),
    'check',
    '--attach',
    String(h.pid),
    '--interval',
    '5000',
    '--json',
  );
  // The checker maps the host's regions in its first scan, samples them at once, then pauses.
  while (!mapsRegionOf(check.pid, h.pid)) await new Promise((r) => setTimeout(r, 20));
  await stopHost(h);
  const r = await check;
  const vm = (JSON.parse(r.out) as Report).vms[0]!;
  assert.equal(vm.exited, true, r.out);
  assert.deepEqual(vm.violations, []);
  assert.equal(r.code, 0, r.err);
  const text = hvkit('check', '--attach', String(h.pid));
  assert.equal(text.code, 2);
  assert.match(text.err, /no such process/);
});

test('--watch prints a forged table once with its time, notes the host leaving, and exits 1 on SIGINT', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '1']);
  const child = spawn(
    process.execPath,
    ['bin/hvkit.mjs', 'check', '--attach', String(h.pid), '--watch', '--interval', '50'],
    {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines: string[] = [];
  const waiters: { match: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0))
      if (w.match.test(line)) w.resolve();
      else waiters.push(w);
  });
  // A line that never comes fails the test (with what was printed), rather than hanging it.
  const seen = (match: RegExp) =>
    lines.some((l) => match.test(l))
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no line matching ${match} in:\n${lines.join('\n')}`)),
            hangDeadline(30_000),
          );
          waiters.push({
            match,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
  const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
  try {
    await seen(new RegExp(`^${ISO} pid ${h.pid} \\(\\S+\\): appeared: `));
    const name = forgeTable(h.pid);
    await seen(/identity-mismatch/);
    // Many more samples: the same violation is not printed again.
    const samplesLater = Date.now() + 500;
    while (Date.now() < samplesLater) await new Promise((r) => setTimeout(r, 50));
    unforge(name);
    await stopHost(h);
    await seen(new RegExp(`^${ISO} pid ${h.pid} \\(\\S+\\): disappeared: the process exited$`));
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 1, lines.join('\n'));
  assert.equal(lines.filter((l) => /identity-mismatch/.test(l)).length, 1, lines.join('\n'));
  assert.match(
    lines.find((l) => /identity-mismatch/.test(l))!,
    new RegExp(`^${ISO} pid ${h.pid} .*: table .*: error: dom\\.identity: identity-mismatch`),
  );
  assert.match(lines.at(-1)!, new RegExp(`^${ISO} pid ${h.pid} .*exited during the check: INVALID \\(1 error`));
});
