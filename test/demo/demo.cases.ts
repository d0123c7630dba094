/**
 * The `hvkit demo` tests, registered per backend: demo.test.ts runs them on the simulated backend,
 * demo.kvm.test.ts on real KVM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { hangDeadline } from '../support/slowdown.ts';

const HVKIT = ['bin/hvkit.mjs'];

function hostRegions(pid: number): string[] {
  return readdirSync('/dev/shm').filter((f) => f.startsWith(`hvkit.${pid}.`));
}

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [...HVKIT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: hangDeadline(120_000),
  });
  return { code: r.status, out: r.stdout, err: r.stderr, pid: r.pid ?? -1 };
}

async function waitFor(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + hangDeadline(ms);
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

export function registerDemoTests(backend: 'sim' | 'kvm'): void {
  describe('hvkit demo', () => {
    it(`runs four VMs on the ${backend} backend, re-creates one with its domid reused, and cleans up`, (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const r = run(['demo', '--seconds', '4', '--interval', '500', '--recreate-every', '1500', '--own'], {
        HVKIT_BACKEND: backend,
      });
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, new RegExp(`hvkit demo: ${backend} backend`));
      assert.match(r.err, /created cycler: domid 4/);
      assert.match(r.err, /stopped every domain and removed its regions/);
      const last = r.out.split('hvkit top ·').at(-1) ?? '';
      assert.match(last, /4 VMs, 8 vCPUs/);
      assert.match(r.out, /domid reused: domid 4 reused: unique id [0-9a-f]{16} → [0-9a-f]{16}/);
      assert.deepEqual(hostRegions(r.pid), [], 'no region of the demo host is left');
    });

    it('is seen from another process by hvkit top, and its regions are cleaned after kill -9', async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      // At the lowest priority: its guests keep every CPU busy, and on a slow (emulated) machine
      // they would starve the `hvkit top` this test runs beside them for minutes.
      const demo = spawn(
        'nice',
        // Long enough to outlive creating four VMs and a `top --once` on a slow machine: the test
        // kills it (kill -9 is the point) as soon as top has seen it.
        [
          '-n',
          '19',
          process.execPath,
          ...HVKIT,
          'demo',
          '--seconds',
          String(hangDeadline(120_000) / 1000),
          '--own',
          '--recreate-every',
          '3600000',
        ],
        {
          env: { ...process.env, NO_COLOR: '1', HVKIT_BACKEND: backend },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let log = '';
      demo.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
      });
      const pid = demo.pid!;
      try {
        await waitFor('four domains', () => /created cycler/.test(log)).catch((err: Error) => {
          throw new Error(`${err.message}; the demo said: ${log.slice(-2000) || '(nothing)'}`);
        });
        const top = run(['top', '--once', '--json', '--interval', '300']);
        assert.equal(top.code, 0, top.err);
        const doc = JSON.parse(top.out);
        const mine = doc.vms.filter((v: { pid: number }) => v.pid === pid);
        assert.equal(
          mine.length,
          4,
          `the demo's VMs from outside: ${JSON.stringify(doc.vms.map((v: { key: string }) => v.key))}`,
        );
        for (const vm of mine) {
          assert.equal(vm.owner, 'hvkit');
          assert.match(vm.uniqueId, /^\d+$/);
          assert.ok(vm.sources.includes('stats-table'), vm.sources.join(','));
          if (backend === 'kvm') assert.ok(vm.sources.includes('kvm-stats-fd'), `${vm.name}: ${vm.note}`);
          assert.equal(vm.vcpus.length, 2);
        }
      } finally {
        demo.kill('SIGKILL');
        await exited(demo);
      }
      assert.ok(hostRegions(pid).length > 0, 'kill -9 leaves the dead host’s regions');
      // The next host start removes them (any host starting on this machine may, so the message
      // is not required from this one: what matters is that they are gone).
      const next = run(['demo', '--seconds', '1', '--own'], { HVKIT_BACKEND: 'sim' });
      assert.equal(next.code, 0, next.err);
      assert.deepEqual(hostRegions(pid), []);
    });
  });
}
