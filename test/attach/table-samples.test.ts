/**
 * The sampling fast paths give exactly what the decoding paths give, sample after sample:
 *  - TableSamplePlan.samples(snapshot) = tableStatSamples over decode(snapshot)'s groups, for
 *    producers of every frozen revision (absent and carved-later counters), with and without the
 *    arch block, inactive counters, torn groups and vCPU blocks with a bad magic;
 *  - KvmStatSampler.samples(data) = kvmStatSamples(layout, data) for any stats file;
 * and both hand out the previous StatSample object again exactly when its content is unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { StatSample } from '../../src/attach/sample.ts';
import { KvmStatSampler, kvmStatSamples, tableStatSamples } from '../../src/attach/stat-samples.ts';
import { TableSamplePlan } from '../../src/attach/table-samples.ts';
import { StatType } from '../../src/formats/kvm-stats/constants.ts';
import { KvmStatsReader } from '../../src/formats/kvm-stats/reader.ts';
import {
  frozenStatsTableRevisions,
  shippedStatsTableAbi,
  statsTableRevision,
} from '../../src/formats/stats-table/abi.ts';
import { blockOffset } from '../../src/formats/stats-table/layout.ts';
import type { GroupModel } from '../../src/formats/stats-table/model.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { type GroupWriter, StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion } from '../../src/shm/region.ts';
import { type KvmStatDefinition, KvmStatsWriter } from '../support/kvm-stats-writer.ts';

const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: ALL_ONES }),
  fc.constantFrom(0n, 1n, ALL_ONES),
  fc.bigInt({ min: 0n, max: 255n }),
);

/** Remembers the last sample seen under each key and checks reuse happens exactly when content is equal. */
class ReuseCheck {
  readonly #last = new Map<string, StatSample>();
  check(key: string, s: StatSample): void {
    const before = this.#last.get(key);
    if (before && isDeepStrictEqual(before, s)) assert.equal(s, before, `${key}: unchanged but not reused`);
    if (before && !isDeepStrictEqual(before, s)) assert.notEqual(s, before);
    this.#last.set(key, s);
  }
}

interface GroupHandle {
  writer: GroupWriter;
  model: GroupModel;
}

function groupsOf(writer: StatsTableWriter): GroupHandle[] {
  const { model, layout } = writer;
  const active = (bits: bigint, g: GroupModel) => ((bits >> BigInt(g.bit)) & 1n) === 1n;
  const out: GroupHandle[] = [];
  for (const g of model.dom) if (active(layout.domActive, g)) out.push({ writer: writer.dom(g.name), model: g });
  for (let v = 0; v < layout.nrVcpus; v++) {
    for (const g of model.vcpu)
      if (active(layout.vcpuActive, g)) out.push({ writer: writer.vcpu(v, g.name), model: g });
    if (model.vcpuArch && layout.archVcpuSize > 0) out.push({ writer: writer.arch(v), model: model.vcpuArch });
  }
  return out;
}

const tableCase = fc.record({
  revision: fc.constantFrom(...frozenStatsTableRevisions()),
  vcpus: fc.integer({ min: 0, max: 3 }),
  arch: fc.constantFrom('none' as const, 'x86_64' as const),
  /** Per step: (group pick, counter pick, element pick, value) writes; a group pick to leave torn; vCPU magics to break. */
  steps: fc.array(
    fc.record({
      writes: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), u64), { maxLength: 12 }),
      inactive: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
      torn: fc.option(fc.nat(), { nil: undefined }),
      badMagic: fc.option(fc.nat(), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

describe('TableSamplePlan', () => {
  it('gives what decode + tableStatSamples give, and reuses exactly the unchanged samples', () => {
    const consumer = shippedStatsTableAbi();
    fc.assert(
      fc.property(tableCase, ({ revision, vcpus, arch, steps }) => {
        const abi = statsTableRevision(revision);
        const options = { nrVcpus: vcpus, arch };
        const region = createSharedRegion(StatsTableWriter.plan(abi, options).regionSize);
        const writer = StatsTableWriter.create(region, abi, options);
        const groups = groupsOf(writer);
        const reader = StatsTableReader.open(region, consumer, { maxRetries: 1, maxReadRetries: 1_000 });
        const plan = new TableSamplePlan(reader);
        const snapshot = reader.allocSnapshot();
        const reuse = new ReuseCheck();
        for (const step of steps) {
          for (const [gi, ci, ei, value] of step.writes) {
            if (groups.length === 0) break;
            const { writer: g, model } = groups[gi % groups.length]!;
            const c = model.counters[ci % model.counters.length]!;
            g.update((h) => h.set(h.counter(c.name) + 2 * (ei % c.count), value));
          }
          if (step.inactive && groups.length > 0) {
            const { writer: g, model } = groups[step.inactive[0] % groups.length]!;
            g.markInactive(model.counters[step.inactive[1] % model.counters.length]!.name);
          }
          // A group left odd (a writer stopped mid-update) is torn; a vCPU block with a bad magic is invalid.
          const held = step.torn !== undefined && groups.length > 0 ? groups[step.torn % groups.length]! : undefined;
          held?.writer.begin();
          const broken = step.badMagic !== undefined && vcpus > 0 ? step.badMagic % vcpus : undefined;
          const magicWord = broken === undefined ? -1 : blockOffset(writer.layout, 'vcpu', broken) / 4;
          const magic = magicWord >= 0 ? region.words[magicWord]! : 0;
          if (magicWord >= 0) region.words[magicWord] = magic ^ 0x5a5a;
          reader.snapshot(snapshot);
          held?.writer.end();
          if (magicWord >= 0) region.words[magicWord] = magic;

          const decoded = reader.decode(snapshot);
          const got = plan.samples(snapshot);
          assert.deepStrictEqual(got.vm, tableStatSamples(decoded.dom.groups));
          assert.deepStrictEqual(
            got.vcpus,
            decoded.vcpus.map((b) => ({
              index: b.index,
              stats: tableStatSamples(b.arch ? [...b.groups, b.arch] : b.groups),
            })),
          );
          for (const s of got.vm) reuse.check(`vm/${s.name}`, s);
          for (const v of got.vcpus) for (const s of v.stats) reuse.check(`v${v.index}/${s.name}`, s);
        }
        region.close();
      }),
      { numRuns: 60 },
    );
  });

  it('hands out the same objects for an unchanged table, and a new one only for the changed counter', () => {
    const abi = shippedStatsTableAbi();
    const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 2 }).regionSize);
    const writer = StatsTableWriter.create(region, abi, { nrVcpus: 2 });
    writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 5));
    const reader = StatsTableReader.open(region, abi);
    const plan = new TableSamplePlan(reader);
    const first = plan.samples(reader.snapshot());
    const second = plan.samples(reader.snapshot());
    assert.ok(first.vm.every((s, i) => s === second.vm[i]));
    assert.ok(first.vcpus.every((v, j) => v.stats.every((s, i) => s === second.vcpus[j]!.stats[i])));
    writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 6));
    const third = plan.samples(reader.snapshot());
    const changed = third.vcpus[1]!.stats.filter((s, i) => s !== second.vcpus[1]!.stats[i]);
    assert.deepStrictEqual(
      changed.map((s) => [s.name, s.value]),
      [['exits.io_exits', 6n]],
    );
    region.close();
  });
});

const kvmStat: fc.Arbitrary<KvmStatDefinition> = fc
  .record({
    type: fc.constantFrom(StatType.Cumulative, StatType.Instant, StatType.Peak, StatType.LinearHist, StatType.LogHist),
    size: fc.integer({ min: 1, max: 8 }),
  })
  .map(({ type, size }) => {
    const hist = type === StatType.LinearHist || type === StatType.LogHist;
    return {
      name: '',
      type,
      size: hist ? size : 1,
      ...(type === StatType.LinearHist ? { bucketSize: 4 } : {}),
    };
  });

describe('KvmStatSampler', () => {
  it('gives what kvmStatSamples gives, and reuses exactly the unchanged samples', () => {
    fc.assert(
      fc.property(
        fc.array(kvmStat, { minLength: 1, maxLength: 12 }),
        fc.array(fc.array(fc.tuple(fc.nat(), fc.nat(), u64), { maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        (defs, steps) => {
          const stats = defs.map((d, i) => ({ ...d, name: `stat_${i}` }));
          const file = new KvmStatsWriter('kvm-1/vcpu-0', stats);
          const reader = KvmStatsReader.open(file);
          const sampler = new KvmStatSampler(reader.layout);
          const reuse = new ReuseCheck();
          for (const writes of steps) {
            for (const [si, ei, value] of writes) {
              const s = stats[si % stats.length]!;
              const size = s.size ?? 1;
              if (size === 1) file.set(s.name, value);
              else {
                const now = Array.from({ length: size }, (_, k) => (k === ei % size ? value : 0n));
                file.set(s.name, now);
              }
            }
            const data = reader.readData();
            const got = sampler.samples(data);
            assert.deepStrictEqual(got, kvmStatSamples(reader.layout, data));
            for (const s of got) reuse.check(s.name, s);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
