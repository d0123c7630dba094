/**
 * A domain's teardown cannot leak (simulated backend, real worker threads): whatever fails — the
 * stop command, closing the guest's calls, the release itself, starting the workers — the workers
 * end, the platform is released exactly once, `destroyed` settles, and destroy() rejects with the
 * first failure (and keeps answering with the same promise).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { InternalError } from '../../src/errors.ts';
import type { GuestProgram } from '../../src/vmm/guests.ts';
import { LiveRuntimes } from '../../src/vmm/live-runtimes.ts';
import { simDomainPlatform } from '../../src/vmm/sim-backend.ts';
import { WorkerDomainRuntime } from '../../src/vmm/worker-runtime.ts';
import { eventually, threadCount } from './helpers.ts';
import {
  type Injected,
  InjectedFailure,
  injectFailures,
  settlesWithin,
  type TestCalls,
  teardownDomain,
  testCalls,
} from './teardown-support.ts';

const VCPUS = 2;

/**
 * Runs a domain of `program` with `inject`ed failures until its guest made a call (when `calls`
 * is given) and destroys it; returns what destroy() settled with and the counted platform.
 */
async function destroyWith(program: GuestProgram, inject: Injected, calls?: TestCalls) {
  const threadsBefore = threadCount();
  const domain = teardownDomain(program, VCPUS);
  const platform = injectFailures(simDomainPlatform(domain.config), inject);
  try {
    const runtime = await WorkerDomainRuntime.create(domain.config, domain.options(calls), platform);
    await runtime.start();
    if (calls) await settlesWithin(calls.entered, 30_000, "the guest's first hypercall");
    const destroying = runtime.destroy();
    // Held calls are answered only now: the vCPU inside one has not seen STOP when it is kicked.
    calls?.answer();
    const outcome = await settlesWithin(
      destroying.then(
        () => ({ failure: undefined }),
        (failure: unknown) => ({ failure }),
      ),
      30_000,
      'destroy',
    );
    await settlesWithin(runtime.destroyed, 30_000, 'destroyed');
    assert.equal(runtime.destroy(), destroying, 'a second destroy() returns the same promise');
    assert.equal(runtime.state, 'destroyed');
    assert.equal(platform.releases, 1, 'release() ran exactly once');
    assert.ok(await eventually(() => threadCount() <= threadsBefore), 'every worker thread ended');
    assert.deepEqual(calls?.internalErrors ?? [], []);
    domain.region.close();
    assert.deepEqual(mappingsOf(domain.config.statsRegion), [], 'no mapping of the stats table is left');
    return outcome.failure;
  } finally {
    domain.region.close();
  }
}

/** This process's mappings of the /dev/shm file `name`. */
function mappingsOf(name: string): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`/dev/shm/${name}`));
}

test('the stop command fails (a kick throws): the workers are terminated, release runs, destroy rejects with it', async () => {
  const kick = new InjectedFailure('kick failed');
  const failure = await destroyWith('calls', { kick }, testCalls({ hold: true }));
  assert.equal(failure, kick);
});

test("closing the guest's calls fails (a session cleanup throws): release runs, destroy rejects with it", async () => {
  const cleanup = new InjectedFailure('session cleanup failed');
  const failure = await destroyWith('calls', {}, testCalls({ failingCleanup: cleanup }));
  assert.ok(failure instanceof InternalError, `closing the calls reports its cleanups: ${String(failure)}`);
  assert.equal(failure.cause, cleanup);
});

test('release itself throws: it ran once, destroyed settles, destroy rejects with it', async () => {
  const release = new InjectedFailure('release failed');
  const failure = await destroyWith('compute', { release });
  assert.equal(failure, release);
});

test('every step fails: release still runs once and the first failure (the stop command) is thrown', async () => {
  const kick = new InjectedFailure('kick failed');
  const cleanup = new InjectedFailure('session cleanup failed');
  const release = new InjectedFailure('release failed');
  const failure = await destroyWith('calls', { kick, release }, testCalls({ hold: true, failingCleanup: cleanup }));
  assert.equal(failure, kick);
});

test('nothing fails: destroy resolves, release runs once', async () => {
  const failure = await destroyWith('calls', {}, testCalls());
  assert.equal(failure, undefined);
});

test('starting the workers fails part-way: the workers already started end and release runs once', async () => {
  const threadsBefore = threadCount();
  const domain = teardownDomain('compute', VCPUS);
  const error = new InjectedFailure('no worker data for vCPU 1');
  const platform = injectFailures(simDomainPlatform(domain.config), { workerData: { vcpu: 1, error } });
  try {
    await assert.rejects(
      settlesWithin(WorkerDomainRuntime.create(domain.config, domain.options(), platform), 30_000, 'create'),
      (e) => e === error,
    );
    assert.equal(platform.releases, 1, 'release() ran exactly once');
    assert.ok(await eventually(() => threadCount() <= threadsBefore), "vCPU 0's worker ended");
  } finally {
    domain.region.close();
  }
});

test("destroying all of a backend's domains waits for every teardown, also after one failed", async () => {
  const domains = new LiveRuntimes();
  const failing = teardownDomain('compute', 1);
  const slow = teardownDomain('calls', 1);
  // The slow domain's vCPU sits in a held hypercall; closing its calls waits for that call, which
  // is answered only in the macrotask after the failing domain's release threw: its teardown
  // ends last, after everything the failure set off in promise reactions.
  const calls = testCalls({ hold: true });
  const slowPlatform = injectFailures(simDomainPlatform(slow.config), {});
  const release = new InjectedFailure('release failed');
  const failingBase = simDomainPlatform(failing.config);
  const failingPlatform = injectFailures(
    {
      ...failingBase,
      release() {
        setImmediate(() => calls.answer());
        failingBase.release();
      },
    },
    { release },
  );
  try {
    const a = await WorkerDomainRuntime.create(failing.config, failing.options(), failingPlatform);
    const b = await WorkerDomainRuntime.create(slow.config, slow.options(calls), slowPlatform);
    domains.add(a);
    domains.add(b);
    await a.start();
    await b.start();
    await settlesWithin(calls.entered, 30_000, "the guest's first hypercall");
    await assert.rejects(settlesWithin(domains.destroyAll(), 30_000, 'destroyAll'), (e) => e === release);
    assert.equal(failingPlatform.releases, 1);
    assert.equal(slowPlatform.releases, 1, 'the other domain was fully torn down before destroyAll returned');
    assert.equal(b.state, 'destroyed');
  } finally {
    failing.region.close();
    slow.region.close();
  }
});
