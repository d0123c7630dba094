/**
 * The Host over the real simulated backend of src/vmm: domains through their whole lifecycle,
 * the feed, the directory, the stats tables under /dev/shm and cleanup at stop.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shippedDomainDirectoryAbi } from '../../src/formats/domstate/abi.ts';
import { checkDomainDirectory } from '../../src/formats/domstate/checker.ts';
import { DomainDirectoryReader } from '../../src/formats/domstate/reader.ts';
import { shippedStatsTableAbi } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { Host, type HostEvent } from '../../src/host/host.ts';
import { NONE } from '../../src/host/lifecycle.ts';
import { hostPrefix } from '../../src/shm/region-names.ts';
import { openShmRegion, SHM_DIR } from '../../src/shm/shm-file.ts';
import { simBackend } from './sim-backend.ts';

const present = (name: string) => existsSync(join(SHM_DIR, name));

async function withHost(fn: (host: Host, events: HostEvent[]) => Promise<void>): Promise<void> {
  const host = Host.start({ backend: simBackend(), ownsBackend: true });
  const events: HostEvent[] = [];
  host.on((e) => events.push(e));
  try {
    await fn(host, events);
  } finally {
    await host.stop();
  }
}

test('lifecycle of a domain: stats table, directory, feed and events agree', async () => {
  await withHost(async (host, events) => {
    const consumer = host.feed.subscribe();
    const dom = await host.createDomain({ name: 'a', vcpus: 2, memoryMiB: 1, workload: 'compute' });
    assert.equal(dom.domid, 1);
    assert.equal(dom.state, 'running');
    assert.equal(dom.backend, 'sim');
    assert.ok(dom.statsRegion.startsWith(`${hostPrefix(host.identity)}.dom1.`));
    assert.ok(present(dom.statsRegion) && present(host.directoryRegion));

    // The stats table: newest frozen revision, identity words, read-only by anyone.
    const region = openShmRegion(dom.statsRegion);
    const table = StatsTableReader.open(region, shippedStatsTableAbi());
    assert.equal(table.layout.nrVcpus, 2);
    assert.equal(table.identity().name, 'a', 'the domain’s name is in its table');
    region.close();

    // The directory, read-only as an unprivileged reader would.
    const dirRegion = openShmRegion(host.directoryRegion);
    const dir = DomainDirectoryReader.open(dirRegion, shippedDomainDirectoryAbi());
    assert.deepEqual(dir.owner, { pid: host.identity.pid, startTime: host.identity.startTime });
    const e1 = dir.entry(1);
    assert.deepEqual(
      [e1.state, e1.uniqueId, e1.generation, e1.stats, e1.nrVcpus],
      ['running', dom.uniqueId, 1, true, 2],
    );

    await host.pause(1);
    assert.equal(dir.entry(1).state, 'paused');
    await host.unpause(1);
    await host.shutdown(1);
    assert.equal(host.domain(1)?.state, 'shutdown');
    await assert.rejects(host.unpause(1), /shutdown/);
    await host.destroy(1);
    assert.equal(host.domain(1), undefined);
    assert.ok(!present(dom.statsRegion), 'the stats region goes with the domain');
    assert.equal(dir.entry(1).state, 'destroyed');
    assert.deepEqual(checkDomainDirectory(dirRegion, shippedDomainDirectoryAbi()).violations, []);

    // The domid is reused at once, with a new unique id and generation.
    const again = await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'io' });
    assert.equal(again.domid, 1);
    assert.notEqual(again.uniqueId, dom.uniqueId);
    assert.equal(again.generation, 2);
    assert.equal(dir.entry(1).uniqueId, again.uniqueId);
    const againRegion = openShmRegion(again.statsRegion);
    assert.equal(StatsTableReader.open(againRegion, shippedStatsTableAbi()).identity().name, 'dom1');
    againRegion.close();
    dirRegion.close();

    const seen = host.feed.getDomainState(consumer);
    assert.ok(seen !== NONE);
    assert.deepEqual([seen.domid, seen.uniqueId, seen.state], [1, again.uniqueId, 'running']);
    assert.equal(host.feed.getDomainState(consumer), NONE);
    assert.deepEqual(
      events.filter((e) => e.kind !== 'guest').map((e) => e.kind),
      ['created', 'paused', 'unpaused', 'shutdown', 'dying', 'destroyed', 'created'],
    );
  });
});

test('a domain created paused starts on unpause; several domains get the lowest free domids', async () => {
  await withHost(async (host) => {
    const doms = await Promise.all(
      ['compute', 'io', 'mixed'].map((w) =>
        host.createDomain({ vcpus: 1, memoryMiB: 1, workload: w as 'compute', paused: w === 'io' }),
      ),
    );
    assert.deepEqual(doms.map((d) => d.domid).sort(), [1, 2, 3]);
    const paused = doms.find((d) => d.workload === 'io')!;
    assert.equal(paused.state, 'paused');
    assert.equal((await host.unpause(paused.domid)).state, 'running');
    await host.destroy(2);
    assert.equal((await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' })).domid, 2);
    assert.deepEqual(
      host.list().map((d) => d.domid),
      [1, 2, 3],
    );
  });
});

test('stop destroys every domain and removes every region of the host', async () => {
  const host = Host.start({ backend: simBackend(), ownsBackend: true });
  const a = await host.createDomain({ vcpus: 2, memoryMiB: 1, workload: 'mixed' });
  const b = await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'io', paused: true });
  await host.shutdown(b.domid);
  await host.stop();
  for (const name of [a.statsRegion, b.statsRegion, host.directoryRegion]) assert.ok(!present(name), name);
  await assert.rejects(host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'io' }), /stopping/);
});

test('a guest that crashes moves its domain to shutdown with the reason; the feed signals it', async () => {
  await withHost(async (host, events) => {
    const consumer = host.feed.subscribe();
    const dom = await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute', vmm: { program: 'fault' } });
    const shutdown = await new Promise<HostEvent>((resolve) => {
      const seen = events.find((e) => e.kind === 'shutdown');
      if (seen) resolve(seen);
      host.on((e) => {
        if (e.kind === 'shutdown') resolve(e);
      });
    });
    assert.equal(shutdown.domain.domid, dom.domid);
    assert.match('reason' in shutdown ? String(shutdown.reason) : '', /crashed|shut down/);
    assert.equal(host.domain(dom.domid)?.state, 'shutdown');
    // Creation and shutdown may both be pending on the one bit: the consumer sees the current state.
    const change = host.feed.getDomainState(consumer);
    assert.ok(change !== NONE && change.state === 'shutdown' && change.uniqueId === dom.uniqueId);
    assert.equal(host.feed.getDomainState(consumer), NONE);
    assert.ok(events.some((e) => e.kind === 'guest'));
    await host.destroy(dom.domid);
  });
});

test('createDomain refuses a name the stats table cannot hold, before reserving anything', async () => {
  await withHost(async (host, events) => {
    const base = { vcpus: 1, memoryMiB: 1, workload: 'compute' } as const;
    for (const name of ['sixteen-bytes-xx', 'ééééééééé', 'tab\there', 'nul\0']) {
      await assert.rejects(host.createDomain({ ...base, name }), { name: 'UsageError' }, JSON.stringify(name));
    }
    assert.deepEqual(host.list(), []);
    assert.deepEqual(events, []);
    // Fifteen bytes of UTF-8 fit, and the domid the refusals never took is the first one.
    const dom = await host.createDomain({ ...base, name: 'fifteen-bytes-x' });
    assert.equal(dom.domid, 1);
    const region = openShmRegion(dom.statsRegion);
    assert.equal(StatsTableReader.open(region, shippedStatsTableAbi()).identity().name, 'fifteen-bytes-x');
    region.close();
  });
});
