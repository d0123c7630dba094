import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { describeTable } from '../../src/formats/stats-table/describe.ts';
import { type DecodedTable, StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion, sharedRegionFrom } from '../../src/shm/region.ts';
import { expectedValue, fillDeterministic } from './fixtures/values.ts';

const REVS = [1, 2] as const;
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
          const key = `${row.block}/${row.group}/${row.counter}`;
          const want = expected.get(key);
          if (!want) {
            // Known to the consumer only: the older producer does not have it.
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
        // Producer-only groups are reported as present but ignored, never misread.
        const unknown = [...expected.keys()].filter((k) => !seen.has(k));
        assert.equal(unknown.length > 0, prodRev > consRev);
        if (prodRev > consRev) {
          assert.deepEqual(
            table.unknownActive.map((u) => `${u.scope}:${u.bit}`),
            ['dom:1', 'vcpu:2'],
          );
          assert.equal(table.ignoredBytes.dom, 64);
          assert.equal(table.ignoredBytes.vcpu, 192);
        }
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
        if (row.state === 'absent') continue;
        const want = expectedValue(row.block, row.group, row.counter, 0);
        assert.equal(row.value ?? row.buckets![0], want, `${row.block}.${row.group}.${row.counter}`);
      }
    }
    region.close();
  }
});
