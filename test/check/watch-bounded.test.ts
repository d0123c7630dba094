/**
 * `hvkit check --watch` runs for days on a host whose VMs come and go: what the checker holds must
 * be what is there now. A domain destroyed loses its table subject (closed, unmapped) and a new one
 * is checked on its own; processes that exited keep a short record, older ones only count towards
 * the verdict; the violations they saw are never lost from it. (The KVM side — stats fds closed or
 * reused under the same numbers — is in attach.kvm.test.ts.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { readProcessIdentity } from '../../src/os/procfs.ts';
import { directoryRegionName, parseRegionName } from '../../src/shm/region-names.ts';
import { shmPath } from '../../src/shm/shm-file.ts';
import { LiveChecker, type LiveEvent, liveExitCode, reportLines } from '../../src/tools/live-check/index.ts';
import { ctl, json, startHost, stopHost } from '../ctl/host-process.ts';

/** The hvkit regions of host `pid` this process has mapped (deleted ones included). */
function mappedRegionsOf(pid: number): string[] {
  const names = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = new RegExp(`/dev/shm/(hvkit\\.${pid}\\.\\S+)`).exec(line);
    if (m) names.add(m[1]!);
  }
  return [...names].sort();
}

function hostTables(pid: number): string[] {
  return readdirSync('/dev/shm').filter((n) => {
    const r = parseRegionName(n);
    return r?.kind === 'stats' && r.pid === pid;
  });
}

test('a host whose domains come and go: the checker holds the regions there now, no more', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '0']);
  const checker = new LiveChecker({ pids: [h.pid] });
  try {
    let domid = json<{ domid: number }>(
      ctl(h.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--json']),
    ).domid;
    checker.sample();
    let table = hostTables(h.pid);
    assert.equal(table.length, 1);
    const directory = readdirSync('/dev/shm').find((n) => n.startsWith(`hvkit.${h.pid}.`) && n.endsWith('.domains'))!;
    for (let round = 1; round <= 6; round++) {
      const destroyed = ctl(h.pid, ['destroy', String(domid)]);
      assert.equal(destroyed.code, 0, destroyed.err);
      domid = json<{ domid: number }>(
        ctl(h.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--json']),
      ).domid;
      const { findings, events } = checker.sample();
      assert.deepEqual(findings, []);
      const gone = events.filter((e: LiveEvent) => e.kind === 'note').map((e) => e.text);
      assert.deepEqual(gone, [`gone from the process, no longer checked: table ${table[0]}`], `round ${round}`);
      table = hostTables(h.pid);
      // One directory, the live domain's table: nothing of the domains before is held or mapped.
      const vm = checker.report().vms[0]!;
      assert.deepEqual(vm.subjects.map((s) => s.label).sort(), [`directory ${directory}`, `table ${table[0]}`].sort());
      assert.deepEqual(mappedRegionsOf(h.pid), [directory, table[0]!].sort());
      const samples = new Map(vm.subjects.map((s) => [s.kind, s.samples]));
      assert.equal(samples.get('domain-directory'), round + 1);
      assert.equal(samples.get('stats-table'), 1, 'the new domain’s table is a subject of its own');
    }
    const report = checker.report();
    assert.equal(report.errors + report.warnings, 0);
    assert.equal(liveExitCode(report), 0);
  } finally {
    checker.close();
    await stopHost(h);
  }
  assert.deepEqual(mappedRegionsOf(h.pid), [], 'closing the checker unmaps everything');
});

test('processes that exit: the last few are kept one by one, the rest counted, the verdict keeps every error', async () => {
  const sleepers: ChildProcess[] = [];
  const regions: string[] = [];
  try {
    // Five "VMMs" whose only hvkit region, a domain directory, is not one (bytes of no directory).
    for (let i = 0; i < 5; i++) {
      const child = spawn('sleep', ['120'], { stdio: 'ignore' });
      sleepers.push(child);
      const identity = readProcessIdentity(child.pid!);
      assert.ok(identity, 'the sleeper runs');
      const name = directoryRegionName({ pid: child.pid!, startTime: identity.startTime });
      writeFileSync(shmPath(name), Buffer.alloc(4096, 0xa5), { mode: 0o600 });
      regions.push(name);
    }
    const checker = new LiveChecker({ pids: sleepers.map((c) => c.pid!), keepExited: 2 });
    try {
      const first = checker.sample();
      assert.equal(first.findings.length, 5, JSON.stringify(first.findings));
      assert.ok(first.findings.every((f) => f.violation.severity === 'error'));
      for (const child of sleepers) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      const { events } = checker.sample();
      assert.equal(events.filter((e) => e.kind === 'disappeared').length, 5);
      const report = checker.report();
      assert.deepEqual(
        report.vms.map((vm) => vm.pid),
        sleepers.slice(3).map((c) => c.pid),
        'the last two that exited',
      );
      assert.ok(report.vms.every((vm) => vm.exited && vm.errors === 1 && vm.violations.length === 1));
      assert.deepEqual(report.earlierExited, { processes: 3, errors: 3, warnings: 0, unchecked: 3 });
      assert.equal(report.errors, 5, 'every error still counts');
      assert.equal(liveExitCode(report), 1);
      assert.match(
        reportLines(report).at(-1)!.line,
        /^and 3 earlier process\(es\) that exited: 3 error\(s\), 0 warning\(s\), 3 not checked$/,
      );
      // More samples after they left: nothing is found, reported or kept again.
      const again = checker.sample();
      assert.deepEqual([again.findings, again.events], [[], []]);
      assert.equal(checker.report().vms.length, 2);
    } finally {
      checker.close();
    }
  } finally {
    for (const child of sleepers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const name of regions) if (existsSync(shmPath(name))) unlinkSync(shmPath(name));
  }
});

test('a process that lives on but holds no VM any more leaves the watch, said as such, not as an exit', async () => {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  const identity = readProcessIdentity(child.pid!);
  assert.ok(identity);
  const name = directoryRegionName({ pid: child.pid!, startTime: identity.startTime });
  writeFileSync(shmPath(name), Buffer.alloc(4096, 0xa5), { mode: 0o600 });
  const checker = new LiveChecker({ pids: [child.pid!] });
  try {
    assert.equal(checker.sample().findings.length, 1);
    unlinkSync(shmPath(name));
    const { events } = checker.sample();
    assert.deepEqual(
      events.map((e) => [e.kind, e.text]),
      [['disappeared', 'it runs no VM any more (or its fds may no longer be listed)']],
    );
    const report = checker.report();
    assert.equal(report.errors, 1, 'what it saw still counts');
    assert.equal(report.vms[0]!.exited, true);
    assert.equal(report.vms[0]!.stillRunning, true);
    assert.match(reportLines(report).at(-1)!.line, /left the check \(no VM any more\)/);
  } finally {
    checker.close();
    child.kill('SIGKILL');
    if (existsSync(shmPath(name))) unlinkSync(shmPath(name));
  }
});
