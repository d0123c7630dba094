import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { type CheckOptions, checkStatsTable, compareTables } from '../../src/formats/stats-table/checker.ts';
import { bytesRegion } from '../../src/shm/region.ts';
import { type Crafted, craft, rules } from './helpers.ts';

const REVISIONS = frozenStatsTableRevisions();
const NEWEST = REVISIONS[REVISIONS.length - 1]!;

function check(c: Crafted, rev = 2, options: CheckOptions = {}) {
  return checkStatsTable(c.region(), statsTableRevision(rev), options);
}

/** Offset of a field of a group of vCPU `v` in a crafted table. */
function vcpuField(c: Crafted, v: number, group: string, counter?: string): number {
  const g = c.model.vcpu.find((x) => x.name === group)!;
  const base = c.layout.vcpuOffs + v * c.layout.vcpuStride;
  return base + (counter ? g.counters.find((x) => x.name === counter)!.offset : g.seqOffset);
}

const slackPacking = (_dom: number, vcpu: number, nr: number, page = 4096) => ({
  vcpuOffset: 512,
  vcpuStride: vcpu + 128,
  regionSize: Math.ceil((512 + nr * (vcpu + 128)) / page) * page + page,
});

test('a clean table has no violations, for every producer/checker revision pair', () => {
  for (const prod of REVISIONS) {
    for (const rev of REVISIONS) {
      for (const arch of ['none', 'x86_64'] as const) {
        const r = check(craft(prod, { nrVcpus: 3, arch }), rev);
        assert.deepEqual(rules(r.violations), [], `producer ${prod}, checker ${rev}, ${arch}`);
        assert.ok(r.table);
      }
    }
  }
  for (const rev of REVISIONS) {
    assert.deepEqual(rules(check(craft(rev, { nrVcpus: 2, packing: slackPacking }), rev).violations), []);
    assert.deepEqual(rules(check(craft(rev, { nrVcpus: 0 }), rev).violations), []);
  }
});

/** Offset of a word of the domain or vCPU-0 header in a crafted table. */
function headerWord(c: Crafted, block: 'dom' | 'vcpu', name: string): number {
  const f = c.model.abi.structs.find((s) => s.name === block)!.fields.find((x) => x.name === name)!;
  return (block === 'dom' ? 0 : c.layout.vcpuOffs) + f.offset;
}

test('rev ≥ 3: identity words are not reserved bytes; the remaining reserved bytes still are', () => {
  for (const rev of REVISIONS.filter((r) => r >= 3)) {
    const c = craft(rev);
    // Free-form words: any value is fine (a host_tid, an fd + 1, a start time, a unique id).
    c.view.setUint32(headerWord(c, 'vcpu', 'host_tid'), 0xffff_fffe, true);
    c.view.setUint32(headerWord(c, 'vcpu', 'kvm_stats_fd'), 0xffff_ffff, true);
    c.view.setBigUint64(headerWord(c, 'dom', 'unique_id'), 2n ** 64n - 1n, true);
    c.view.setUint32(headerWord(c, 'dom', 'owner_pid'), 0xffff_ffff, true);
    assert.deepEqual(rules(check(c, rev).violations), [], `rev ${rev}`);
    // The last byte of what is left of the header's reserved bytes (24 bytes, 8 since rev 5).
    const reserved = c.model.domZero.find((z) => z.name === 'layout_reserved')!;
    c.bytes[reserved.offset + reserved.length - 1] = 1;
    c.bytes[headerWord(c, 'vcpu', 'vcpu_reserved')] = 1;
    assert.deepEqual(rules(check(c, rev).violations), [
      'dom.layout_reserved reserved-nonzero',
      'vcpu[0].vcpu_reserved reserved-nonzero',
    ]);
    const d = craft(rev);
    d.view.setUint32(headerWord(d, 'dom', 'domid'), 40000, true);
    assert.deepEqual(rules(check(d, rev).violations), ['dom.domid domid-out-of-range']);
  }
});

test('carved words are judged by the producer’s revision', () => {
  // A rev-2 producer has no identity words or shutdown_exits: those bytes are its reserved bytes
  // and padding, and a newer checker still holds it to that.
  const old = craft(2);
  const rev3 = craft(3);
  old.bytes[headerWord(rev3, 'dom', 'domid')] = 1;
  old.bytes[old.layout.vcpuOffs + headerWord(rev3, 'vcpu', 'host_tid') - rev3.layout.vcpuOffs] = 1;
  old.bytes[vcpuField(old, 1, 'exits') + 72] = 1; // rev 3's shutdown_exits
  const want = [
    'dom.layout_reserved reserved-nonzero',
    'vcpu[0].vcpu_reserved reserved-nonzero',
    'vcpu[1].exits._pad1 reserved-nonzero',
  ];
  for (const rev of REVISIONS.filter((r) => r >= 2)) assert.deepEqual(rules(check(old, rev).violations), want);
  // ... and a newer reader shows them absent, not as values.
  const t = check(old, NEWEST).table!;
  assert.deepEqual(t.identity, {});
  assert.deepEqual(t.vcpus[0]!.identity, {});
  const exits = t.vcpus[1]!.groups.find((g) => g.name === 'exits')!;
  assert.equal(exits.counters.find((c) => c.name === 'shutdown_exits')!.state, 'absent');
  // A newer producer's carved words are not judged by an older checker (it cannot know them).
  assert.deepEqual(rules(check(craft(NEWEST), 2).violations), []);
  // An unfrozen producer (revision 0) is treated as newer than any frozen checker.
  const unfrozen = craft(NEWEST);
  unfrozen.setHeader('revision', 0);
  unfrozen.bytes[headerWord(unfrozen, 'dom', 'layout_reserved')] = 1;
  assert.deepEqual(rules(check(unfrozen, NEWEST).violations), []);
});

test('ports slots: port numbers ≤ 0xffff or unused, no used slot after an unused one', () => {
  const portAt = (c: Crafted, v: number, slot: number) => vcpuField(c, v, 'ports', `port${slot}`);
  const c = craft(4);
  assert.deepEqual(rules(check(c, 4).violations), []);
  c.view.setBigUint64(portAt(c, 0, 2), 0x1_0000n, true);
  c.view.setBigUint64(portAt(c, 1, 5), 2n ** 64n - 1n, true); // slot 5 unused, 6 and 7 still used
  assert.deepEqual(rules(check(c, 4).violations), [
    'vcpu[0].ports.port2 port-out-of-range',
    'vcpu[1].ports.port6 port-slot-order',
    'vcpu[1].ports.port7 port-slot-order',
  ]);
  // A fresh table has every slot unused: valid.
  const fresh = craft(4);
  for (let s = 0; s < 8; s++) fresh.view.setBigUint64(portAt(fresh, 0, s), 2n ** 64n - 1n, true);
  assert.deepEqual(rules(check(fresh, 4).violations), []);
});

test('layout rules: each corruption is reported with its field and rule', () => {
  const cases: [string, (c: Crafted) => void, string][] = [
    ['magic', (c) => c.setHeader('magic', 0x12345678), 'dom.magic magic'],
    ['dom_size', (c) => c.setHeader('dom_size', 64), 'dom.dom_size dom-size-too-small'],
    ['vcpu_size', (c) => c.setHeader('vcpu_size', 32), 'dom.vcpu_size vcpu-size-too-small'],
    ['vcpu_offs < dom_size', (c) => c.setHeader('vcpu_offs', 128), 'dom.vcpu_offs vcpu-offs-below-dom-size'],
    ['stride < size', (c) => c.setHeader('vcpu_stride', 512), 'dom.vcpu_stride vcpu-stride-below-size'],
    ['unaligned offs', (c) => c.setHeader('vcpu_offs', 260), 'dom.vcpu_offs alignment'],
    ['unaligned stride', (c) => c.setHeader('vcpu_stride', 772), 'dom.vcpu_stride alignment'],
    ['page size', (c) => c.setHeader('page_size', 1000), 'dom.page_size page-size'],
    ['region not pages', (c) => c.setHeader('region_size', 4000), 'dom.region_size region-size-pages'],
    ['region > mapping', (c) => c.setHeader('region_size', 8192), 'dom.region_size region-size-exceeds-mapping'],
    ['too many vCPUs', (c) => c.setHeader('nr_vcpus', 6), 'dom.nr_vcpus vcpus-exceed-region'],
    ['arch without arch', (c) => c.setHeader('arch', 0), 'dom.arch arch-block-without-arch'],
    [
      'arch block overlaps vCPU fields',
      (c) => c.setHeader('arch_vcpu_offs', 640),
      'dom.arch_vcpu_offs arch-block-bounds',
    ],
    ['arch block past stride', (c) => c.setHeader('arch_vcpu_size', 128), 'dom.arch_vcpu_offs arch-block-bounds'],
    [
      'absent dom arch block with offset',
      (c) => c.setHeader('arch_dom_offs', 8),
      'dom.arch_dom_offs arch-block-bounds',
    ],
  ];
  for (const [what, mutate, want] of cases) {
    const c = craft(2);
    mutate(c);
    const got = rules(check(c).violations);
    assert.ok(got.includes(want), `${what}: expected ${want}, got ${JSON.stringify(got)}`);
  }
  const c = craft(2);
  c.setHeader('arch', 7);
  const v = check(c).violations;
  assert.deepEqual(rules(v), ['dom.arch arch-unknown']);
  assert.equal(v[0]!.severity, 'warning');
  assert.deepEqual(rules(checkStatsTable(bytesRegion(new Uint8Array(100)), statsTableRevision(1)).violations), [
    'region region-too-short',
  ]);
});

test('reserved, padding and slack bytes must be zero', () => {
  const cases: [string, (c: Crafted) => void, string][] = [
    ['header reserved', (c) => c.bytes.fill(1, 100, 101), 'dom.layout_reserved reserved-nonzero'],
    [
      'vCPU reserved',
      (c) => (c.bytes[c.layout.vcpuOffs + c.layout.vcpuStride + 20] = 1),
      'vcpu[1].vcpu_reserved reserved-nonzero',
    ],
    ['group padding', (c) => (c.bytes[c.model.dom[0]!.seqOffset + 4] = 1), 'dom.sched._pad0 reserved-nonzero'],
    [
      'vCPU group padding',
      (c) => (c.bytes[vcpuField(c, 0, 'exits') + 100] = 1),
      'vcpu[0].exits._pad1 reserved-nonzero',
    ],
    ['dom slack', (c) => (c.bytes[300] = 1), 'dom slack-nonzero'],
    ['vCPU slack', (c) => (c.bytes[c.layout.vcpuOffs + c.layout.vcpuSize + 8] = 1), 'vcpu[0] slack-nonzero'],
    ['region tail', (c) => (c.bytes[c.bytes.length - 1] = 1), 'region slack-nonzero'],
  ];
  for (const [what, mutate, want] of cases) {
    const c = craft(2, { nrVcpus: 2, packing: slackPacking });
    mutate(c);
    assert.deepEqual(rules(check(c).violations), [want], what);
  }
});

test('vCPU blocks: magic and id', () => {
  const c = craft(2, { nrVcpus: 3 });
  c.view.setUint32(c.layout.vcpuOffs + c.layout.vcpuStride, 0xdeadbeef, true);
  c.view.setUint32(c.layout.vcpuOffs + 2 * c.layout.vcpuStride + 4, 9, true);
  assert.deepEqual(rules(check(c).violations), ['vcpu[1].magic vcpu-magic', 'vcpu[2].vcpu_id vcpu-id']);
  // The block with a bad magic is not decoded.
  const t = check(c).table!;
  assert.equal(t.vcpus[1]!.groups[0]!.state, 'invalid');
  assert.equal(t.vcpus[2]!.groups[0]!.state, 'ok');
});

test('a group whose sequence word stays odd is reported after bounded retries', () => {
  const c = craft(2);
  c.view.setUint32(vcpuField(c, 0, 'exits'), 3, true);
  const r = check(c, 2, { maxRetries: 3 });
  assert.deepEqual(rules(r.violations), ['vcpu[0].exits.seq seq-odd']);
  assert.equal(r.table!.tornCount, 1);
  assert.equal(r.table!.vcpus[0]!.groups[0]!.state, 'torn');
});

test('active bits: unknown, unproducible, and inactive groups holding data', () => {
  // A rev-1 producer advertising the rev-2 io group it cannot produce.
  const old = craft(1);
  old.setHeader('vcpu_active', 0b111n);
  assert.deepEqual(rules(check(old, 2).violations), ['dom.vcpu_active active-bit-unproducible']);
  assert.deepEqual(rules(check(old, 1).violations), ['dom.vcpu_active active-bit-unknown']);
  // A bit nobody defines, from a producer no newer than the checker.
  const c = craft(2);
  c.setHeader('dom_active', 0b100011n);
  assert.deepEqual(rules(check(c, 2).violations), ['dom.dom_active active-bit-unknown']);
  // The same bit from a newer producer (bigger blocks) is tolerated: the checker cannot judge it.
  assert.deepEqual(rules(check(c, 1).violations), []);
  // halt cleared but still holding data.
  const h = craft(2);
  h.setHeader('vcpu_active', 0b101n);
  assert.deepEqual(rules(check(h).violations), [
    'vcpu[0].halt inactive-group-data',
    'vcpu[1].halt inactive-group-data',
  ]);
});

test('histograms are inactive as a whole or not at all', () => {
  const c = craft(2);
  c.view.setBigUint64(vcpuField(c, 1, 'halt', 'halt_wait_hist') + 24, 2n ** 64n - 1n, true);
  assert.deepEqual(rules(check(c).violations), ['vcpu[1].halt.halt_wait_hist histogram-partially-inactive']);
});

test('two snapshots: cumulative counters must not decrease; the layout must not change', () => {
  const c = craft(2);
  const first = check(c).table!;
  const io = vcpuField(c, 0, 'exits', 'io_exits');
  c.view.setBigUint64(io, c.view.getBigUint64(io, true) - 1n, true);
  const running = c.model.dom[0]!.counters.find((x) => x.name === 'vcpus_running')!.offset;
  c.view.setBigUint64(running, 0n, true); // an instant value may go down
  const hist = vcpuField(c, 1, 'io', 'io_latency_hist') + 8 * 3;
  c.view.setBigUint64(hist, 0n, true);
  const r = check(c, 2, { previous: first });
  assert.deepEqual(rules(r.violations), [
    'vcpu[0].exits.io_exits counter-decreased',
    'vcpu[1].io.io_latency_hist[3] counter-decreased',
  ]);
  assert.ok(r.violations.every((v) => v.severity === 'warning'));
  const other = check(craft(1)).table!;
  assert.deepEqual(rules(compareTables(first, other)), ['dom.revision layout-changed']);
});
