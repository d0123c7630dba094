import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { HostSample } from '../../src/attach/sample.ts';
import { kvmStatTemplate, tableStatSamples } from '../../src/attach/stat-samples.ts';
import type { MetricFamily } from '../../src/formats/exposition/model.ts';
import { encodePrometheusText } from '../../src/formats/exposition/text.ts';
import { statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion } from '../../src/shm/region.ts';
import { describeFamily } from '../../src/tools/export/families.ts';
import { SampleMapper } from '../../src/tools/export/mapping.ts';
import { COUNT, counter, gauge, log2Hist, NS, sample, vm } from '../top/fixtures/samples.ts';
import { parseText } from './text-parser.ts';

const BYTES_KIB = { unit: 'bytes', base: 2, exponent: 10 } as const;

function host(n: number, exits: bigint, opts: { second?: boolean } = {}): HostSample {
  return sample(n, [
    vm({
      key: 'hvkit:00000000000000aa',
      name: 'web "front"',
      pid: 42,
      domid: 3,
      uniqueId: 0xaan,
      vm: [counter('halt_wait_ns', 1_500_000_000n, 'kvm', NS), { ...gauge('mapped', 4n, 'vmm'), unit: BYTES_KIB }],
      vcpus: [
        [counter('exits', exits), log2Hist('vmm.exit_latency_hist', [1n, 0n, 2n, 5n])],
        [counter('exits', 7n), log2Hist('vmm.exit_latency_hist', [0n, 0n, 0n, 0n])],
      ],
    }),
    ...(opts.second === false
      ? []
      : [vm({ key: 'pid:7:1:kvm-7', name: 'qemu', pid: 7, owner: 'other', vcpus: [[counter('exits', 3n)]] })]),
  ]);
}

function byName(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name} among ${families.map((x) => x.name).join(', ')}`);
  return f;
}

test('families: KVM and VMM stats get Prometheus names, types, base units and the VM identity labels', () => {
  const m = new SampleMapper();
  const { families, series } = m.map(host(1, 100n), 1000);
  const halt = byName(families, 'hvkit_kvm_vm_halt_wait_seconds');
  assert.equal(halt.type, 'counter');
  assert.deepEqual(halt.scale, { base: 10, exponent: -9 });
  assert.deepEqual(halt.points[0]!.labels, [
    ['vm', 'web "front"'],
    ['vm_key', 'hvkit:00000000000000aa'],
    ['pid', '42'],
    ['domid', '3'],
    ['unique_id', '00000000000000aa'],
  ]);
  const mapped = byName(families, 'hvkit_vmm_vm_mapped_bytes');
  assert.equal(mapped.type, 'gauge');
  const exits = byName(families, 'hvkit_kvm_vcpu_exits');
  assert.deepEqual(
    exits.points.map((p) => [p.labels.at(-1), p.value]),
    [
      [['vcpu', '0'], 100n],
      [['vcpu', '1'], 7n],
      [['vcpu', '0'], 3n],
    ],
  );
  const hist = byName(families, 'hvkit_vmm_vcpu_vmm_exit_latency_hist_nanoseconds');
  assert.equal(hist.type, 'histogram');
  assert.deepEqual(hist.scale, { base: 10, exponent: 0 }, 'nanosecond log2 histograms keep raw nanoseconds');
  assert.deepEqual(hist.shape, { kind: 'log2' });
  assert.equal(series, 2 + 4 + 1);
  const text = parseText(encodePrometheusText({ families, atMs: 1000 }), false);
  const sample = text.samples.find((s) => s.name === 'hvkit_kvm_vm_halt_wait_seconds_total')!;
  assert.equal(sample.value, '1.5');
  const bytes = text.samples.find((s) => s.name === 'hvkit_vmm_vm_mapped_bytes')!;
  assert.equal(bytes.value, '4096');
});

test('families: HELP comes from the stat (schema doc or KVM descriptor), with a fallback naming it', () => {
  const withHelp = describeFamily({ ...counter('exits', 1n), help: 'Exits.\nAll of them' }, 'vcpu');
  assert.equal(withHelp.help, 'Exits. All of them (per vCPU)');
  assert.equal(describeFamily(counter('halt_exits', 1n), 'vm').help, 'KVM stat halt_exits (per VM)');
  assert.equal(describeFamily(counter('x.y', 1n, 'vmm'), 'vm').name, 'hvkit_vmm_vm_x_y');
});

test('a VM that is gone leaves the next collection, and its state is dropped', () => {
  const m = new SampleMapper();
  m.map(host(1, 100n), 1000);
  assert.equal(m.trackedVms, 2);
  const { families } = m.map(host(2, 110n, { second: false }), 2000);
  for (const f of families) for (const p of f.points) assert.notEqual(p.labels[0]![1], 'qemu');
  assert.equal(m.trackedVms, 1);
});

test('a counter that goes down is a reset: its start time moves, the value is exported as it is', () => {
  const m = new SampleMapper();
  const first = byName(m.map(host(1, 100n), 1000).families, 'hvkit_kvm_vcpu_exits').points[0]!;
  assert.equal(first.startMs, 1000);
  const grown = byName(m.map(host(2, 150n), 2000).families, 'hvkit_kvm_vcpu_exits').points[0]!;
  assert.equal(grown.startMs, 1000);
  const reset = byName(m.map(host(3, 5n), 3000).families, 'hvkit_kvm_vcpu_exits').points[0]!;
  assert.equal(reset.startMs, 3000);
  assert.equal(reset.value, 5n);
  const other = byName(m.map(host(4, 6n), 4000).families, 'hvkit_kvm_vcpu_exits').points[1]!;
  assert.equal(other.startMs, 1000, 'an untouched series keeps its start');
});

test('a histogram whose buckets go down is a reset too', () => {
  const m = new SampleMapper();
  const s1 = host(1, 1n);
  m.map(s1, 1000);
  const s2 = host(2, 1n);
  s2.vms[0]!.vcpus[0]!.stats[1] = log2Hist('vmm.exit_latency_hist', [0n, 0n, 1n, 0n]);
  const p = byName(m.map(s2, 2000).families, 'hvkit_vmm_vcpu_vmm_exit_latency_hist_nanoseconds').points[0]!;
  assert.equal(p.startMs, 2000);
});

test('--no-vcpu drops per-vCPU series; --max-series stops at N and counts the rest', () => {
  const noVcpu = new SampleMapper({ vcpus: false }).map(host(1, 1n), 1000);
  assert.equal(noVcpu.series, 2);
  assert.ok(noVcpu.families.every((f) => !f.name.includes('_vcpu_')));
  const limited = new SampleMapper({ maxSeries: 3 });
  const r = limited.map(host(1, 1n), 1000);
  assert.equal(r.series, 3);
  assert.equal(limited.droppedByLimit, 4n);
  limited.map(host(2, 1n), 2000);
  assert.equal(limited.droppedByLimit, 8n, 'cumulative across collections');
});

test('two stats mapping to one name with different types keep the first; the other counts as a conflict', () => {
  const m = new SampleMapper();
  const s = sample(1, [vm({ key: 'a', vm: [counter('x', 1n)] }), vm({ key: 'b', vm: [gauge('x', 2n)] })]);
  const r = m.map(s, 1000);
  assert.equal(byName(r.families, 'hvkit_kvm_vm_x').points.length, 1);
  assert.equal(m.droppedByConflict, 1n);
  const twice = m.map(sample(2, [vm({ key: 'a', vm: [counter('a.b', 1n), counter('a_b', 2n)] })]), 2000);
  assert.deepEqual(
    byName(twice.families, 'hvkit_kvm_vm_a_b').points.map((p) => p.value),
    [1n],
  );
  assert.equal(m.droppedByConflict, 2n);
});

test('StatSample help: a KVM stat says its descriptor (name, type, raw unit); a VMM counter its schema doc', () => {
  const d = {
    index: 0,
    name: 'halt_wait_ns',
    flags: 0,
    type: 0,
    unit: 2,
    base: 0,
    exponent: -9,
    size: 1,
    offset: 0,
    bucketSize: 0,
    word: 0,
  };
  assert.equal(kvmStatTemplate(d).base.help, 'KVM binary stat halt_wait_ns (cumulative, raw in seconds × 10^-9)');
  const peak = { ...d, name: 'max_mmu_page_hash_collisions', type: 2, unit: 0, exponent: 0 };
  assert.equal(kvmStatTemplate(peak).base.help, 'KVM binary stat max_mmu_page_hash_collisions (peak value)');
  const abi = statsTableRevision(2);
  const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
  const writer = StatsTableWriter.create(region, abi, { nrVcpus: 1 });
  const group = writer.model.vcpu[0]!;
  const first = group.counters[0]!;
  writer.vcpu(0, group.name).update((h) => h.add(h.counter(first.name), 1));
  const reader = StatsTableReader.open(region, abi);
  const table = reader.decode(reader.snapshot());
  const stats = tableStatSamples(table.vcpus[0]!.groups);
  const stat = stats.find((s) => s.name === `${group.name}.${first.name}`)!;
  assert.equal(stat.help, first.field.doc);
  assert.ok(stat.help.length > 3, `schema doc as help: ${stat.help}`);
});

test('hostile stat and VM names (any UTF-8, other VMMs) still give valid names and parseable text', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.string({ unit: 'binary', maxLength: 30 }),
          fc.constantFrom('counter', 'gauge') as fc.Arbitrary<'counter' | 'gauge'>,
        ),
        { maxLength: 8 },
      ),
      fc.string({ unit: 'binary', maxLength: 30 }),
      (stats, vmName) => {
        const s = sample(1, [
          vm({
            key: 'k',
            name: vmName,
            vm: stats.map(([name, kind]) => ({ name, kind, unit: COUNT, origin: 'kvm' as const, value: 1n })),
          }),
        ]);
        const { families } = new SampleMapper().map(s, 0);
        for (const f of families) assert.match(f.name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
        if (families.length === 0) return;
        const text = parseText(encodePrometheusText({ families, atMs: 0 }), false);
        for (const smp of text.samples) assert.equal(smp.labels[0]![1], Buffer.from(vmName).toString());
        const names = text.samples.map((x) => x.name);
        assert.equal(new Set(names).size, names.length, 'no series twice');
      },
    ),
  );
});
