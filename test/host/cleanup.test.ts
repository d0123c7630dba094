/**
 * Cleanup after a crash: a host killed with SIGKILL leaves its regions under /dev/shm; the next
 * cleanup (every Host.start runs it) removes them, and leaves a live host's regions alone.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { findStaleRegions, removeStaleRegions } from '../../src/host/cleanup.ts';
import { processLiveness, processStartTime, selfIdentity } from '../../src/os/procfs.ts';
import { hostPrefix, parseRegionName, statsRegionName } from '../../src/shm/region-names.ts';
import { SHM_DIR } from '../../src/shm/shm-file.ts';

const HOLDER = new URL('./fixtures/region-holder.ts', import.meta.url).pathname;

interface Holder {
  child: ChildProcess;
  pid: number;
  names: string[];
}

async function startHolder(): Promise<Holder> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
  const info = JSON.parse(first) as { pid: number; names: string[] };
  return { child, pid: info.pid, names: info.names };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const present = (name: string) => existsSync(join(SHM_DIR, name));

test('region names parse back to their host and domain', () => {
  const host = { pid: 1234, startTime: 98765n };
  assert.equal(hostPrefix(host), 'hvkit.1234.98765');
  assert.deepEqual(parseRegionName(statsRegionName(host, 7, 0xabcn)), {
    ...host,
    kind: 'stats',
    domid: 7,
    uniqueId: 0xabcn,
  });
  assert.deepEqual(parseRegionName('hvkit.1234.98765.domains'), { ...host, kind: 'domains' });
  for (const other of ['hvkit-test-1-x', 'hvkit.0.1.domains', 'hvkit.12.x.domains', 'other.1.2.domains']) {
    assert.equal(parseRegionName(other), undefined, other);
  }
});

test('liveness: this process is alive, another start time is a dead (reused) pid', () => {
  const me = selfIdentity();
  assert.equal(processLiveness(me.pid, me.startTime), 'alive');
  assert.equal(processLiveness(me.pid, me.startTime + 1n), 'dead');
  assert.equal(processStartTime(0x7fff_fff0), undefined);
});

test('a SIGKILLed host leaves regions; cleanup removes them and spares a live host', async (t) => {
  if (!existsSync(SHM_DIR)) {
    t.skip(`${SHM_DIR} is absent`);
    return;
  }
  const killed = await startHolder();
  const live = await startHolder();
  const me = selfIdentity();
  // A region of "this pid" from an earlier process life: same pid, another start time.
  const reused = `${hostPrefix({ pid: me.pid, startTime: me.startTime + 1n })}.domains`;
  writeFileSync(join(SHM_DIR, reused), 'x');
  try {
    killed.child.kill('SIGKILL');
    await exited(killed.child);
    for (const name of killed.names) assert.ok(present(name), `kill -9 leaves ${name} behind`);

    const stale = findStaleRegions().map((r) => r.name);
    for (const name of [...killed.names, reused]) assert.ok(stale.includes(name), `${name} is stale`);
    for (const name of live.names) assert.ok(!stale.includes(name), `${name} belongs to a live host`);

    const removed = removeStaleRegions();
    for (const name of [...killed.names, reused]) {
      assert.ok(removed.includes(name));
      assert.ok(!present(name), `${name} was removed`);
    }
    for (const name of live.names) assert.ok(present(name), `${name} of the live host survives`);
  } finally {
    live.child.stdin!.end();
    await exited(live.child);
    killed.child.kill('SIGKILL');
  }
  for (const name of live.names) assert.ok(!present(name), 'the live host removed its own regions on exit');
});
