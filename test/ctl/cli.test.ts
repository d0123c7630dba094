/**
 * `hvkit host` in a child process, `hvkit ctl` in others: the control socket end to end (sim
 * backend always; KVM too when /dev/kvm is usable).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { shippedCallWordAbi } from '../../src/formats/callword/abi.ts';
import { kvmUnavailableReason } from '../../src/kvm/index.ts';

const ENTRY = ['--import', 'tsx', 'test/ctl/hvkit-entry.ts'];

interface Started {
  child: ChildProcess;
  pid: number;
  socket: string;
  backend: string;
  exited: Promise<number | null>;
}

async function startHost(env: NodeJS.ProcessEnv, args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [...ENTRY, 'host', '--json', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hvkit host exited with ${code} before serving`)));
  });
  const start = JSON.parse(first) as { pid: number; socket: string; backend: string };
  return { child, exited, ...start };
}

function ctl(host: number, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...ENTRY, 'ctl', '--host', String(host), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function json<T>(r: { code: number | null; out: string; err: string }): T {
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

async function stopHost(h: Started): Promise<void> {
  h.child.kill('SIGTERM');
  assert.equal(await h.exited, 0);
  assert.equal(existsSync(h.socket), false, 'socket removed');
  const left = readdirSync('/dev/shm').filter((n) => n.startsWith(`hvkit.${h.pid}.`));
  assert.deepEqual(left, [], 'every region of the host removed');
}

test('sim host: features, list, create, pause, changes, destroy through `hvkit ctl`; clean stop', async () => {
  const h = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '1', '--workload', 'io']);
  try {
    assert.equal(h.backend, 'sim');
    const features = json<{ abi: { major: number; revision: number }; calls: { name: string; annotations: string }[] }>(
      ctl(h.pid, ['features', '--json']),
    );
    const shipped = shippedCallWordAbi();
    assert.deepEqual(features.abi, { major: shipped.major, revision: shipped.revision });
    const names = features.calls.map((c) => c.name);
    for (const n of ['core.query_call', 'domain.create', 'lifecycle.get_domain_state']) assert.ok(names.includes(n), n);
    const absent = ctl(h.pid, ['features', 'experimental.0x7f']);
    assert.equal(absent.code, 1);
    assert.match(absent.out, /not supported/);

    const created = json<{ domid: number; name: string; state: string }>(
      ctl(h.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--name', 'ctl-test', '--json']),
    );
    assert.deepEqual([created.name, created.state], ['ctl-test', 'running']);
    const list = json<{ domid: number; workload: string }[]>(ctl(h.pid, ['list', '--json']));
    assert.deepEqual(
      list.map((d) => d.workload),
      ['io', 'compute'],
    );

    assert.equal(json<{ state: string }>(ctl(h.pid, ['pause', String(created.domid), '--json'])).state, 'paused');
    const again = ctl(h.pid, ['pause', String(created.domid)]);
    assert.equal(again.code, 1);
    assert.match(again.err, /domain\.pause: invalid_state/);
    assert.equal(ctl(h.pid, ['destroy', '999']).code, 1);

    const changes = json<{ domid: number; state: string }[]>(ctl(h.pid, ['changes', '--json']));
    assert.deepEqual(
      changes.map((c) => c.state),
      ['running', 'paused'],
    );
    assert.equal(json<{ state: string }>(ctl(h.pid, ['destroy', String(created.domid), '--json'])).state, 'destroyed');
    assert.equal(json<unknown[]>(ctl(h.pid, ['list', '--json'])).length, 1);

    const usage = ctl(h.pid, ['create', '--vcpus', 'x', '--memory', '4', '--workload', 'io']);
    assert.equal(usage.code, 2);
  } finally {
    await stopHost(h);
  }
  const gone = ctl(h.pid, ['list']);
  assert.equal(gone.code, 2);
  assert.match(gone.err, /no control socket/);
});

const kvmReason = kvmUnavailableReason();

test('KVM host: a micro-VM created, listed and destroyed through the control socket', async (t) => {
  if (kvmReason) return t.skip(`needs /dev/kvm: ${kvmReason}`);
  const h = await startHost({ HVKIT_BACKEND: 'kvm' }, []);
  try {
    assert.equal(h.backend, 'kvm');
    const created = json<{ domid: number; state: string }>(
      ctl(h.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'mixed', '--json']),
    );
    assert.equal(created.state, 'running');
    assert.deepEqual(
      json<{ domid: number }[]>(ctl(h.pid, ['list', '--json'])).map((d) => d.domid),
      [created.domid],
    );
    assert.equal(json<{ state: string }>(ctl(h.pid, ['shutdown', String(created.domid), '--json'])).state, 'shutdown');
    assert.equal(json<{ state: string }>(ctl(h.pid, ['destroy', String(created.domid), '--json'])).state, 'destroyed');
  } finally {
    await stopHost(h);
  }
});
