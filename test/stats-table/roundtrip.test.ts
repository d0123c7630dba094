import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError, UsageError } from '../../src/errors.ts';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { describeTable } from '../../src/formats/stats-table/describe.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';
import { type DecodedTable, StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion, sharedRegionFrom } from '../../src/shm/region.ts';
import { expectedValue, fillDeterministic } from './fixtures/values.ts';

const REVS = frozenStatsTableRevisions();
const NEWEST = REVS[REVS.length - 1]!;
const ALL_ONES = 2n ** 64n - 1n;

function setup(rev: number, options: Parameters<typeof StatsTableWriter.create>[2]) {
  const abi = statsTableRevision(rev);
  const region = createSharedRegion(StatsTableWriter.plan(abi, options).regionSize);
  return { region, writer: StatsTableWriter.create(region, abi, options) };
}

function counterOf(table: DecodedTable, block: string, group: string, counter: string) {
  const b = block === 'dom' ? table.dom : table.vcpus[Number(block.slice(5, -1))]!;
  const g = group === 'arch' ? b.arch : b.groups.find((x) => x.name === group);
  return g?.counters.find((c) => c.name === counter);
}

test('writer → reader round trip for random u64 values, every producer/consumer revision pair', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...REVS),
      fc.constantFrom(...REVS),
      fc.integer({ min: 0, max: 5 }),
      fc.boolean(),
      fc.array(fc.oneof(fc.bigInt({ min: 0n, max: ALL_ONES }), fc.constant(ALL_ONES), fc.constant(2n ** 53n + 1n)), {
        minLength: 1,
        maxLength: 40,
      }),
      (prodRev, consRev, nrVcpus, x86, values) => {
        const { region, writer } = setup(prodRev, { nrVcpus, arch: x86 ? 'x86_64' : 'none' });
        const expected = new Map<string, bigint[]>();
        let next = 0;
        const fill = (block: string, g: ReturnType<StatsTableWriter['dom']>) =>
          g.update((h) => {
            for (const c of h.model.counters) {
              const vs: bigint[] = [];
              for (let e = 0; e < c.count; e++) {
                const v = values[next++ % values.length]!;
                h.set(h.counter(c.name) + 2 * e, v);
                vs.push(v);
              }
              expected.set(`${block}/${g.model.name}/${c.name}`, vs);
            }
          });
        for (const g of writer.model.dom) fill('dom', writer.dom(g.name));
        for (let v = 0; v < nrVcpus; v++) {
          for (const g of writer.model.vcpu) fill(`vcpu[${v}]`, writer.vcpu(v, g.name));
          if (x86) fill(`vcpu[${v}]`, writer.arch(v));
        }

        const reader = StatsTableReader.open(region, statsTableRevision(consRev));
        const table = reader.read();
        assert.equal(table.vcpus.length, nrVcpus);
        assert.equal(table.tornCount, 0);
        const seen = new Set<string>();
        for (const row of describeTable(table)) {
          if (row.group === 'identity') continue; // not written here: nothing published
          if (row.slot !== undefined) {
            // A used ports slot: its accesses counter (port words are random here, some all ones).
            const port = expected.get(`${row.block}/ports/port${row.slot}`)![0]!;
            assert.equal(row.counter, `port 0x${port.toString(16)}`);
            const accesses = expected.get(`${row.block}/ports/port${row.slot}_accesses`)![0]!;
            if (accesses === ALL_ONES) assert.equal(row.state, 'inactive', row.counter);
            else assert.equal(row.value, accesses, row.counter);
            seen.add(`${row.block}/ports/port${row.slot}`);
            seen.add(`${row.block}/ports/port${row.slot}_accesses`);
            continue;
          }
          const key = `${row.block}/${row.group}/${row.counter}`;
          const want = expected.get(key);
          if (!want || (consRev > prodRev && row.state === 'absent')) {
            // Known to the consumer only: the older producer does not have it (appended or carved later).
            assert.ok(consRev > prodRev, `${key} missing from producer ${prodRev}`);
            assert.equal(row.state, 'absent', key);
            continue;
          }
          seen.add(key);
          const inactive = want.every((v) => v === ALL_ONES);
          if (inactive) assert.equal(row.state, 'inactive', key);
          else if (want.length === 1) assert.equal(row.value, want[0], key);
          else assert.deepEqual(row.buckets, want, key);
        }
        // Producer-only counters are present but ignored, never misread; unused port slots are not rows.
        const unknown = [...expected.keys()].filter((k) => !seen.has(k) && !/\/ports\/port\d/.test(k));
        if (unknown.length > 0) assert.ok(prodRev > consRev, unknown.join());
        const [pm, cm] = [tableModel(statsTableRevision(prodRev)), tableModel(statsTableRevision(consRev))];
        // vCPU counters a newer producer added (appended or carved; rev 5 added none) are all seen as unknown.
        const vcpuCounters = (m: typeof pm) => m.vcpu.flatMap((g) => g.counters.map((c) => `${g.name}/${c.name}`));
        const added = vcpuCounters(pm).filter((c) => !vcpuCounters(cm).includes(c) && !/^ports\/port\d/.test(c));
        if (nrVcpus > 0) {
          const unknownOfVcpu0 = unknown.filter((k) => k.startsWith('vcpu[0]/')).map((k) => k.slice('vcpu[0]/'.length));
          assert.deepEqual(unknownOfVcpu0.sort(), added.sort());
        }
        const newBits = (['dom', 'vcpu'] as const).flatMap((scope) =>
          pm[scope].filter((g) => !cm[scope].some((x) => x.bit === g.bit)).map((g) => `${scope}:${g.bit}`),
        );
        assert.deepEqual(
          table.unknownActive.map((u) => `${u.scope}:${u.bit}`),
          newBits,
        );
        assert.equal(table.ignoredBytes.dom, Math.max(0, pm.domSize - cm.domSize));
        assert.equal(table.ignoredBytes.vcpu, Math.max(0, pm.vcpuSize - cm.vcpuSize));
        region.close();
      },
    ),
    { numRuns: 200 },
  );
});

test('add() is exact modulo 2^64, including carries past 2^32 and 2^53', () => {
  const { region, writer } = setup(2, { nrVcpus: 1 });
  const g = writer.vcpu(0, 'exits');
  const id = g.counter('io_exits');
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: ALL_ONES - 1n }),
      fc.array(fc.maxSafeNat(), { maxLength: 5 }),
      (start, adds) => {
        g.update((h) => h.set(id, start));
        let want = start;
        for (const n of adds) {
          g.update((h) => h.add(id, n));
          want = BigInt.asUintN(64, want + BigInt(n));
        }
        const got = counterOf(
          StatsTableReader.open(region, statsTableRevision(2)).read(),
          'vcpu[0]',
          'exits',
          'io_exits',
        );
        // A sum that lands exactly on all ones reads as inactive, by definition.
        if (want === ALL_ONES) assert.equal(got?.state, 'inactive');
        else assert.equal(got?.value, want);
      },
    ),
    { numRuns: 300 },
  );
  region.close();
});

test('inactive groups, inactive counters, histograms and describe rows', () => {
  const { region, writer } = setup(2, { nrVcpus: 2, vcpuGroups: ['exits', 'halt'], domGroups: ['sched'] });
  assert.throws(() => writer.vcpu(0, 'io'), /not active/);
  assert.throws(() => writer.dom('memory'), /not active/);
  const halt = writer.vcpu(1, 'halt');
  halt.markInactive('halt_wakeups');
  const hist = halt.counter('halt_wait_hist');
  halt.update((h) => {
    h.add(h.counter('halt_wakeups'), 5); // ignored: the counter is not produced
    h.set(h.counter('halt_wakeups'), 7); // ignored too: the all-ones marker stays
    h.add(h.counter('halt_wakeups'), 1);
    h.add(h.counter('halt_wait_ns'), 1_500_000);
    for (const v of [0, 1, 3, 1000, 1000, 1000, 2 ** 40]) h.recordLog2(hist, v, h.length('halt_wait_hist'));
  });
  const table = StatsTableReader.open(region, statsTableRevision(2)).read();
  assert.equal(table.vcpus[1]!.groups.find((g) => g.name === 'io')!.state, 'inactive');
  assert.equal(table.dom.groups.find((g) => g.name === 'memory')!.state, 'inactive');
  const rows = describeTable(table).filter((r) => r.block === 'vcpu[1]' && r.group === 'halt');
  const byName = new Map(rows.map((r) => [r.counter, r]));
  assert.equal(byName.get('halt_wakeups')!.state, 'inactive');
  assert.equal(byName.get('halt_wait_ns')!.text, '1.5 ms');
  const h = byName.get('halt_wait_hist')!;
  // Buckets: 0 → 0, 1 → 1, 3 → 2, 1000 → 10 (×3), 2^40 → 31 (the open last bucket).
  assert.deepEqual(
    h.buckets!.flatMap((b, i) => (b ? [[i, Number(b)]] : [])),
    [
      [0, 1],
      [1, 1],
      [2, 1],
      [10, 3],
      [31, 1],
    ],
  );
  assert.equal(h.histogram!.total, 7n);
  assert.equal(h.histogram!.p50!.lower, 512n);
  assert.equal(h.unit, 'seconds');
  assert.equal(h.exponent, -9);
  const ioRow = describeTable(table).find((r) => r.group === 'io');
  assert.equal(ioRow!.state, 'inactive');
  region.close();
});

test('snapshots can reuse their buffer and report seqs', () => {
  const { region, writer } = setup(2, { nrVcpus: 3, arch: 'x86_64' });
  const reader = StatsTableReader.open(region, statsTableRevision(2));
  const snap = reader.allocSnapshot();
  const arch = writer.arch(2);
  for (let i = 1; i <= 3; i++) {
    arch.update((h) => h.add(h.counter('tlb_flushes'), 10));
    const table = reader.decode(reader.snapshot(snap));
    const g = table.vcpus[2]!.arch!;
    assert.equal(g.seq, 2 * i);
    assert.equal(g.counters.find((c) => c.name === 'tlb_flushes')!.value, BigInt(10 * i));
  }
  region.close();
});

test('close drops every view: the writer and reader stop touching the memory', () => {
  const { region, writer } = setup(1, { nrVcpus: 1 });
  const g = writer.vcpu(0, 'exits');
  const reader = StatsTableReader.open(region, statsTableRevision(1));
  region.close();
  assert.throws(() => region.bytes, /closed/);
  assert.throws(() => reader.snapshot(), /closed/);
  assert.throws(() => writer.vcpu(0, 'halt'), /closed/);
  assert.throws(() => g.begin(), RangeError);
  region.close(); // idempotent
});

test('the writer refuses a read-only or undersized region', () => {
  const abi = statsTableRevision(2);
  const size = StatsTableWriter.plan(abi, { nrVcpus: 64 }).regionSize;
  assert.throws(() => StatsTableWriter.create(createSharedRegion(size - 4096), abi, { nrVcpus: 64 }), /needs/);
  const readOnly = sharedRegionFrom(new SharedArrayBuffer(size));
  assert.throws(() => StatsTableWriter.create(readOnly, abi, { nrVcpus: 64 }), /read-only/);
});

test('the reader follows the producer’s packing, not its own sizes', () => {
  // An unusual producer: page-aligned vCPU array and page strides with slack after each block.
  const packing = (_dom: number, vcpu: number, nr: number, page = 4096) => ({
    vcpuOffset: page,
    vcpuStride: Math.ceil((vcpu + 1) / page) * page,
    regionSize: page + nr * Math.ceil((vcpu + 1) / page) * page,
  });
  for (const prodRev of REVS) {
    const { region, writer } = setup(prodRev, { nrVcpus: 3, arch: 'x86_64', packing });
    assert.equal(writer.layout.vcpuOffs, 4096);
    assert.equal(writer.layout.vcpuStride, 4096);
    fillDeterministic(writer);
    for (const consRev of REVS) {
      const table = StatsTableReader.open(region, statsTableRevision(consRev)).read();
      for (const row of describeTable(table)) {
        if (row.state === 'absent' || row.group === 'identity' || row.slot !== undefined) continue;
        const want = expectedValue(row.block, row.group, row.counter, 0);
        assert.equal(row.value ?? row.buckets![0], want, `${row.block}.${row.group}.${row.counter}`);
      }
    }
    region.close();
  }
});

test('identity round trip for every revision that has it (unique ids beyond 2^53 exact)', () => {
  for (const rev of REVS.filter((r) => Object.keys(tableModel(statsTableRevision(r)).domIdentity).length > 0)) {
    const { region, writer } = setup(rev, { nrVcpus: 2 });
    const reader = StatsTableReader.open(region, statsTableRevision(rev));
    // Published after the reader opened: identity words are not layout.
    assert.deepEqual(reader.read().identity, {});
    const identity = {
      domid: 32767,
      uniqueId: 2n ** 64n - 3n,
      ownerPid: 123456,
      ownerStartTime: 2n ** 53n + 1n,
      vmStatsFd: 0,
    };
    writer.setIdentity(identity);
    writer.setVcpuIdentity(1, { kvmStatsFd: 9, hostTid: 777 });
    const table = reader.read();
    assert.deepEqual(table.identity, identity);
    assert.deepEqual(reader.identity(), identity);
    assert.deepEqual(table.vcpus[0]!.identity, {});
    assert.deepEqual(table.vcpus[1]!.identity, { kvmStatsFd: 9, hostTid: 777 });
    // The stored fd is fd + 1; null clears it.
    const fdWord = tableModel(statsTableRevision(rev)).domIdentity.vm_stats_fd!;
    assert.equal(new DataView(region.bytes.buffer).getUint32(fdWord.offset, true), 1);
    writer.setIdentity({ vmStatsFd: null });
    assert.equal(reader.identity().vmStatsFd, undefined);
    assert.equal(reader.identity().uniqueId, identity.uniqueId);
    const rows = describeTable(reader.read()).filter((r) => r.group === 'identity');
    assert.deepEqual(
      rows.map((r) => `${r.block} ${r.counter} ${r.state} ${r.text ?? ''}`),
      [
        'dom domid value 32767',
        'dom unique_id value 0xfffffffffffffffd',
        'dom owner_pid value 123456',
        `dom owner_start_time value ${2n ** 53n + 1n} ticks`,
        'dom vm_stats_fd absent ',
        ...(tableModel(statsTableRevision(rev)).domName ? ['dom name absent '] : []),
        'vcpu[0] kvm_stats_fd absent ',
        'vcpu[0] host_tid absent ',
        'vcpu[1] kvm_stats_fd value fd 9',
        'vcpu[1] host_tid value 777',
      ],
    );
    for (const bad of [{ domid: 0 }, { domid: 32768 }, { uniqueId: 0n }, { uniqueId: 2n ** 64n }, { ownerPid: 1.5 }]) {
      assert.throws(
        () => writer.setIdentity(bad),
        UsageError,
        JSON.stringify(bad, (_k, v) => String(v)),
      );
    }
    assert.throws(() => writer.setVcpuIdentity(2, { hostTid: 1 }), /out of range/);
    region.close();
  }
});

test('identity: a writer of a revision without it refuses; a newer consumer of such a producer sees none', () => {
  const { region, writer } = setup(2, { nrVcpus: 1 });
  assert.throws(
    () => writer.setIdentity({ domid: 1 }),
    (e: unknown) => e instanceof UsageError && /revision 2 has no identity word domid/.test(e.message),
  );
  assert.throws(() => writer.setVcpuIdentity(0, { hostTid: 5 }), /revision 2 has no identity word host_tid/);
  const table = StatsTableReader.open(region, statsTableRevision(NEWEST)).read();
  assert.deepEqual(table.identity, {});
  assert.deepEqual(table.vcpus[0]!.identity, {});
  assert.ok(
    describeTable(table)
      .filter((r) => r.group === 'identity')
      .every((r) => r.state === 'absent'),
  );
  region.close();
});

test('attach: a second writer of the same region writes its vCPU’s groups without zeroing anything', () => {
  const abi = statsTableRevision(NEWEST);
  const options = { nrVcpus: 2, arch: 'x86_64' } as const;
  const region = createSharedRegion(StatsTableWriter.plan(abi, options).regionSize);
  const host = StatsTableWriter.create(region, abi, options);
  host.setIdentity({ domid: 3, uniqueId: 99n });
  host.update('dom', 'sched', (g) => g.set(g.counter('wakeups'), 5));
  host.update(1, 'exits', (g) => g.add(g.counter('io_exits'), 4));
  // The worker maps the same memory (here: another view of the same SharedArrayBuffer).
  const view = sharedRegionFrom(region.buffer, { writable: true });
  const worker = StatsTableWriter.attach(view, abi);
  assert.deepEqual(worker.layout, host.layout);
  worker.setVcpuIdentity(1, { hostTid: 4321, kvmStatsFd: 12 });
  worker.update(1, 'exits', (g) => g.add(g.counter('io_exits'), 1)); // continues the sequence and the value
  const ports = worker.ports(1);
  ports.group.update(() => {
    assert.equal(ports.count(0x3f8, 2), true);
    assert.equal(ports.count(0x80), true);
    assert.equal(ports.count(0x3f8), true);
  });
  const table = StatsTableReader.open(region, abi).read();
  assert.deepEqual(table.identity, { domid: 3, uniqueId: 99n });
  assert.deepEqual(table.vcpus[1]!.identity, { kvmStatsFd: 12, hostTid: 4321 });
  const exits = table.vcpus[1]!.groups.find((g) => g.name === 'exits')!;
  assert.equal(exits.seq, 4);
  assert.equal(exits.counters.find((c) => c.name === 'io_exits')!.value, 5n);
  assert.equal(table.dom.groups[0]!.counters.find((c) => c.name === 'wakeups')!.value, 5n);
  const portRows = describeTable(table).filter((r) => r.group === 'ports');
  assert.deepEqual(
    portRows.map((r) => `${r.block} ${r.counter}: ${r.text}`),
    ['vcpu[1] port 0x3f8: 3 accesses', 'vcpu[1] port 0x80: 1 accesses'],
  );
  // A counter resumed by a later writer keeps the slots already taken.
  const again = worker.ports(1);
  again.group.update(() => again.count(0x80, 10));
  const rows2 = describeTable(StatsTableReader.open(region, abi).read()).filter((r) => r.group === 'ports');
  assert.deepEqual(
    rows2.map((r) => `${r.counter}=${r.value}`),
    ['port 0x3f8=3', 'port 0x80=11'],
  );
  region.close();
});

test('attach refuses another revision, another layout, a bad header or a read-only region', () => {
  const abi = statsTableRevision(NEWEST);
  const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: 1 });
  const rule = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      return `${e.field} ${e.rule}`;
    }
  };
  assert.equal(
    rule(() => StatsTableWriter.attach(region, statsTableRevision(NEWEST - 1))),
    'dom.revision producer-mismatch',
  );
  assert.throws(() => StatsTableWriter.attach(sharedRegionFrom(region.buffer), abi), /read-only/);
  const view = new DataView(region.bytes.buffer);
  const vcpuSize = tableModel(abi).header.vcpu_size.offset;
  view.setUint32(vcpuSize, view.getUint32(vcpuSize, true) - 64, true);
  assert.equal(
    rule(() => StatsTableWriter.attach(region, abi)),
    'dom.vcpu_size producer-mismatch',
  );
  view.setUint32(0, 0, true); // no magic: not (yet) a table
  assert.equal(
    rule(() => StatsTableWriter.attach(region, abi)),
    'dom.magic magic',
  );
  region.close();
});
