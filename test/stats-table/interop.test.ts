import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';
import { EXPECTED_IDENTITY, EXPECTED_NAME, expectedValue, expectedVcpuIdentity } from './fixtures/values.ts';
import { cleanup, json, runTs, runTsLines, startTs, type TsProcess, uniqueName } from './processes.ts';

const PRODUCER = new URL('./fixtures/producer.ts', import.meta.url);
const CONSUMER = new URL('./fixtures/consumer.ts', import.meta.url);
const REVISIONS = frozenStatsTableRevisions();
const NR_VCPUS = 3;

interface Row {
  block: string;
  group: string;
  counter: string;
  state: string;
  value?: string;
  buckets?: string[];
  slot?: number;
}

interface ConsumerResult {
  rev: number;
  rows: Row[];
  violations: unknown[];
  unknownActive: { scope: string; bit: number }[];
  ignoredBytes: { dom: number; vcpu: number };
  identity: Record<string, string | number>;
  vcpuIdentity: Record<string, number>[];
}

/** "scope:group.counter" names a revision has (vCPU and arch groups; the domain's under "dom:"). */
function produced(rev: number): Set<string> {
  const m = tableModel(statsTableRevision(rev));
  const names = new Set<string>();
  for (const g of m.dom) for (const c of g.counters) names.add(`dom:${g.name}.${c.name}`);
  for (const g of [...m.vcpu, m.vcpuArch!]) for (const c of g.counters) names.add(`vcpu:${g.name}.${c.name}`);
  return names;
}

/** Active bits of `prod`'s groups that consumer `cons` has no group for. */
function unknownBits(prod: number, cons: number): string[] {
  const [p, c] = [tableModel(statsTableRevision(prod)), tableModel(statsTableRevision(cons))];
  return (['dom', 'vcpu'] as const).flatMap((scope) =>
    p[scope].filter((g) => !c[scope].some((x) => x.bit === g.bit)).map((g) => `${scope}:${g.bit}`),
  );
}

function checkPair(prod: number, cons: number, out: ConsumerResult): void {
  assert.deepEqual(out.violations, []);
  const has = produced(prod);
  const hasIdentity = Object.keys(tableModel(statsTableRevision(Math.min(prod, cons))).domIdentity).length > 0;
  // The name (rev ≥ 5) is read when both revisions have it: absent for rev ≤ 4 producers and consumers.
  const hasName = tableModel(statsTableRevision(Math.min(prod, cons))).domName !== undefined;
  let exact = 0;
  let absent = 0;
  for (const r of out.rows) {
    const key = `${r.block === 'dom' ? 'dom' : 'vcpu'}:${r.group}.${r.counter}`;
    if (r.group === 'identity') {
      const published = r.counter === 'name' ? hasName : hasIdentity;
      assert.equal(r.state, published ? 'value' : 'absent', `${r.block}.${key}`);
      if (!published) absent++; // a word or name the older producer lacks
      continue;
    }
    if (r.group === 'ports' && r.slot !== undefined) {
      // A used slot: "port 0x.." with the slot's accesses.
      assert.ok(has.has(`vcpu:ports.port${r.slot}_accesses`));
      assert.equal(r.counter, `port 0x${expectedValue(r.block, 'ports', `port${r.slot}`, 0).toString(16)}`);
      assert.equal(r.value, expectedValue(r.block, 'ports', `port${r.slot}_accesses`, 0).toString());
      exact++;
      continue;
    }
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
  assert.deepEqual(
    out.unknownActive.map((u) => `${u.scope}:${u.bit}`),
    unknownBits(prod, cons),
  );
  const producerSize = tableModel(statsTableRevision(prod)).vcpuSize;
  assert.equal(out.ignoredBytes.vcpu > 0, producerSize > tableModel(statsTableRevision(cons)).vcpuSize);
  // Identity: exact (u64 beyond 2^53 included) when both revisions have it, absent otherwise.
  if (hasIdentity) {
    assert.equal(json(out.identity), json(hasName ? { ...EXPECTED_IDENTITY, name: EXPECTED_NAME } : EXPECTED_IDENTITY));
    assert.deepEqual(
      out.vcpuIdentity,
      Array.from({ length: NR_VCPUS }, (_, v) => expectedVcpuIdentity(v)),
    );
  } else {
    assert.deepEqual(out.identity, {});
    assert.deepEqual(out.vcpuIdentity, Array(NR_VCPUS).fill({}));
  }
}

// One producer process per revision, and one consumer process reading it as every revision:
// every producer × consumer pair over real shared memory, in 2 × N processes instead of 2 × N².
for (const prod of REVISIONS) {
  test(`interop over /dev/shm: producer rev ${prod} → consumer revs ${REVISIONS.join(', ')}, separate processes`, async (t) => {
    if (!existsSync('/dev/shm')) {
      t.skip('no /dev/shm on this machine');
      return;
    }
    const name = uniqueName(`interop-${prod}`);
    let producer: TsProcess | undefined;
    try {
      producer = startTs(PRODUCER, [name, String(prod), String(NR_VCPUS), 'static']);
      assert.equal((await producer.next()).ready, true);
      const results = (await runTsLines(CONSUMER, [name, REVISIONS.join(','), 'read'])) as unknown as ConsumerResult[];
      assert.deepEqual(
        results.map((r) => r.rev),
        REVISIONS,
      );
      for (const out of results) {
        await t.test(`producer rev ${prod} → consumer rev ${out.rev}`, () => checkPair(prod, out.rev, out));
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
  const newest = String(REVISIONS[REVISIONS.length - 1]);
  const name = uniqueName('stress');
  let producer: TsProcess | undefined;
  try {
    // The writer idles ~200 loop turns between updates: busy, but not a wall of back-to-back updates.
    producer = startTs(PRODUCER, [name, newest, '1', 'equal', '6000', '200']);
    assert.equal((await producer.next()).ready, true);
    const r = (await runTs(CONSUMER, [name, newest, 'stress', '5000'])) as Record<string, number>;
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
