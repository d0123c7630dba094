/**
 * The synthetic host (test/support/synthetic-host.ts) and AttachSession over it: real stats
 * tables in /dev/shm named for this process, read the way `hvkit top` and the exporter read
 * them. The session's samples equal the decoded tables (the slow path, HvkitTable.read() +
 * tableStatSamples), every table is removed by close(), by a failed create, and at exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, unlinkSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { AttachSession } from '../../src/attach/session.ts';
import { tableStatSamples } from '../../src/attach/stat-samples.ts';
import { HvkitTable, parseTableName, tableName } from '../../src/attach/tables.ts';
import { processStartTime } from '../../src/os/procfs.ts';
import { shmPath } from '../../src/shm/shm-file.ts';
import { SyntheticHost } from '../support/synthetic-host.ts';

const hosts: SyntheticHost[] = [];
after(() => {
  for (const h of hosts) h.close();
});

function host(vms: number, vcpus: number, firstDomid: number): SyntheticHost {
  const h = SyntheticHost.create({ vms, vcpus, firstDomid, firstUniqueId: BigInt(firstDomid) << 32n });
  hosts.push(h);
  return h;
}

describe('synthetic host', () => {
  it('is sampled by AttachSession as N hvkit VMs of M vCPUs, equal to the decoded tables, sample after sample', () => {
    const h = host(3, 2, 100);
    const session = new AttachSession({ pids: [process.pid], debugfs: false });
    try {
      for (let round = 0; round < 3; round++) {
        const sample = session.sample();
        const ours = sample.vms.filter((v) => h.vms.some((s) => s.domid === v.domid && s.uniqueId === v.uniqueId));
        assert.equal(ours.length, 3);
        for (const vm of ours) {
          assert.equal(vm.owner, 'hvkit');
          assert.deepStrictEqual(vm.sources, ['stats-table']);
          assert.equal(vm.note, undefined);
          const table = HvkitTable.open(parseTableName(h.vms.find((s) => s.domid === vm.domid)!.name)!);
          const decoded = table.read();
          table.close();
          assert.deepStrictEqual(vm.vm, tableStatSamples(decoded.dom.groups));
          assert.deepStrictEqual(
            vm.vcpus,
            decoded.vcpus.map((b) => ({
              index: b.index,
              stats: tableStatSamples(b.arch ? [...b.groups, b.arch] : b.groups),
            })),
          );
          // step n: scalar counter c of a group holds n·(c+1); the first counter of the first group is n.
          assert.equal(vm.vm[0]?.value, BigInt(round + 1));
        }
        if (round === 0) assert.equal(sample.events.filter((e) => e.kind === 'appeared').length >= 3, true);
        else assert.deepStrictEqual(sample.events, []);
        h.step();
      }
    } finally {
      session.close();
    }
  });

  it('reports created and destroyed domains between samples (the tracker runs after every rescan)', () => {
    const session = new AttachSession({ pids: [process.pid], debugfs: false, rescanEvery: 1_000 });
    try {
      session.sample();
      const h = host(2, 1, 200);
      const created = session.sample().events.filter((e) => e.kind === 'created');
      assert.equal(created.length, 2);
      assert.deepStrictEqual(session.sample().events, []);
      h.close();
      const destroyed = session.sample().events.filter((e) => e.kind === 'destroyed');
      assert.equal(destroyed.length, 2);
    } finally {
      session.close();
    }
  });

  it('close() removes every table', () => {
    const h = host(4, 1, 300);
    const paths = h.vms.map((v) => shmPath(v.name));
    assert.ok(paths.every((p) => existsSync(p)));
    h.close();
    assert.ok(paths.every((p) => !existsSync(p)));
    h.close(); // idempotent
  });

  it('a create that fails part way removes the tables it made', () => {
    const start = processStartTime(process.pid)!;
    const firstUniqueId = 400n << 32n;
    const clash = shmPath(tableName(process.pid, start, 402, firstUniqueId + 2n));
    closeSync(openSync(clash, 'wx'));
    try {
      assert.throws(() => SyntheticHost.create({ vms: 4, vcpus: 1, firstDomid: 400, firstUniqueId }), /EEXIST/);
      for (const i of [0, 1]) {
        assert.equal(existsSync(shmPath(tableName(process.pid, start, 400 + i, firstUniqueId + BigInt(i)))), false);
      }
    } finally {
      unlinkSync(clash);
    }
  });

  it('a process that exits without close() leaves no table behind', () => {
    const support = new URL('../support/synthetic-host.ts', import.meta.url).href;
    const script = `import { SyntheticHost } from ${JSON.stringify(support)};
      const h = SyntheticHost.create({ vms: 3, vcpus: 1, firstDomid: 500 });
      console.log(JSON.stringify(h.vms.map((v) => v.name)));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const names = JSON.parse(r.stdout.trim()) as string[];
    assert.equal(names.length, 3);
    for (const n of names) assert.equal(existsSync(shmPath(n)), false, `${n} left behind`);
  });
});
