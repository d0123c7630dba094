/**
 * `hvkit host` in a child process, `hvkit ctl` in others: the control socket end to end on the
 * sim backend (on KVM: cli.kvm.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shippedCallWordAbi } from '../../src/formats/callword/abi.ts';
import { ctl, json, startHost, stopHost } from './host-process.ts';

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
    // Refused for its arguments (by the CLI or the host): exit 2, one line naming them and the limits.
    for (const args of [
      ['--vcpus', '0', '--memory', '4'],
      ['--vcpus', '-1', '--memory', '4'],
      ['--vcpus', '1', '--memory', '5000'],
    ]) {
      const refused = ctl(h.pid, ['create', ...args, '--workload', 'io']);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.err}`);
      assert.equal(refused.err.trimEnd().split('\n').length, 1, refused.err);
      assert.match(refused.err, args[1] === '1' ? /--memory.*\d+\.\.\d+/ : /--vcpus.*\d+\.\.\d+/);
    }
  } finally {
    await stopHost(h);
  }
  const gone = ctl(h.pid, ['list']);
  assert.equal(gone.code, 2);
  assert.match(gone.err, /no control socket/);
});
