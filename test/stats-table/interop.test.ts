import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';
import { expectedValue } from './fixtures/values.ts';
import { cleanup, runTs, startTs, type TsProcess, uniqueName } from './processes.ts';

const PRODUCER = new URL('./fixtures/producer.ts', import.meta.url);
const CONSUMER = new URL('./fixtures/consumer.ts', import.meta.url);

interface Row {
  block: string;
  group: string;
  counter: string;
  state: string;
  value?: string;
  buckets?: string[];
}

/** "group.counter" names a revision produces (vCPU and arch groups; the domain's under "dom:"). */
function produced(rev: number): Set<string> {
  const m = tableModel(statsTableRevision(rev));
  const names = new Set<string>();
  for (const g of m.dom) for (const c of g.counters) names.add(`dom:${g.name}.${c.name}`);
  for (const g of [...m.vcpu, m.vcpuArch!]) for (const c of g.counters) names.add(`vcpu:${g.name}.${c.name}`);
  return names;
}

const MATRIX: [number, number][] = [
  [1, 1],
  [1, 2],
  [2, 1],
  [2, 2],
];

for (const [prod, cons] of MATRIX) {
  test(`interop over /dev/shm: producer rev ${prod} → consumer rev ${cons}, separate processes`, async (t) => {
    if (!existsSync('/dev/shm')) {
      t.skip('no /dev/shm on this machine');
      return;
    }
    const name = uniqueName(`interop-${prod}-${cons}`);
    let producer: TsProcess | undefined;
    try {
      producer = startTs(PRODUCER, [name, String(prod), '3', 'static']);
      assert.equal((await producer.next()).ready, true);
      const out = (await runTs(CONSUMER, [name, String(cons), 'read'])) as {
        rows: Row[];
        violations: unknown[];
        unknownActive: { scope: string; bit: number }[];
        ignoredBytes: { dom: number; vcpu: number };
      };
      assert.deepEqual(out.violations, []);
      const has = produced(prod);
      let exact = 0;
      let absent = 0;
      for (const r of out.rows) {
        const key = `${r.block === 'dom' ? 'dom' : 'vcpu'}:${r.group}.${r.counter}`;
        if (!has.has(key)) {
          assert.equal(r.state, 'absent', `${r.block}.${key} must be absent, not zero`);
          absent++;
          continue;
        }
        assert.equal(r.state, 'value', key);
        const got = r.value ?? r.buckets?.[r.buckets.length - 1];
        const element = r.buckets ? r.buckets.length - 1 : 0;
        assert.equal(got, expectedValue(r.block, r.group, r.counter, element).toString(), `${r.block}.${key}`);
        exact++;
      }
      assert.ok(exact > 0);
      assert.equal(absent > 0, cons > prod, 'only an older producer leaves fields absent');
      if (prod > cons) {
        assert.deepEqual(out.unknownActive, [
          { scope: 'dom', bit: 1 },
          { scope: 'vcpu', bit: 2 },
        ]);
        assert.ok(out.ignoredBytes.dom > 0 && out.ignoredBytes.vcpu > 0);
      } else {
        assert.deepEqual(out.unknownActive, []);
      }
      producer.child.stdin.end();
      assert.equal(await producer.exited, 0);
      assert.ok(!existsSync(`/dev/shm/${name}`), 'the producer removed its region');
    } finally {
      cleanup(producer, name);
    }
  });
}

test('torn-read stress across processes: no snapshot ever shows unequal counters', async (t) => {
  if (!existsSync('/dev/shm')) {
    t.skip('no /dev/shm on this machine');
    return;
  }
  const name = uniqueName('stress');
  let producer: TsProcess | undefined;
  try {
    // The writer idles ~200 loop turns between updates: busy, but not a wall of back-to-back updates.
    producer = startTs(PRODUCER, [name, '2', '1', 'equal', '6000', '200']);
    assert.equal((await producer.next()).ready, true);
    const r = (await runTs(CONSUMER, [name, '2', 'stress', '5000'])) as Record<string, number>;
    const done = await producer.next();
    t.diagnostic(
      `${r.snapshots} snapshots, ${r.unequal} unequal, ${r.torn} torn (gave up after the retry bound), ${r.retries} retries; writer made ${done.updates} updates`,
    );
    assert.equal(r.unequal, 0);
    assert.ok(r.snapshots! > 0);
    producer.child.stdin.end();
    assert.equal(await producer.exited, 0);
  } finally {
    cleanup(producer, name);
  }
});
