import assert from 'node:assert/strict';
import { test } from 'node:test';
import spec from '../../schemas/stats-table/schema.ts';
import { runAbiCheck } from '../../src/abi/check.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { findStruct, type ResolvedAbi, type ResolvedField } from '../../src/abi/resolved.ts';
import {
  currentStatsTableAbi,
  frozenStatsTableRevisions,
  shippedStatsTableAbi,
  statsTableRevision,
} from '../../src/formats/stats-table/abi.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';

const REVISIONS = frozenStatsTableRevisions();
const NEWEST = REVISIONS[REVISIONS.length - 1]!;

test('the frozen revisions are numbered 1..N without gaps, and the newest is shipped', () => {
  assert.deepEqual(
    REVISIONS,
    Array.from({ length: REVISIONS.length }, (_, i) => i + 1),
  );
  assert.ok(REVISIONS.length >= 4);
  assert.equal(shippedStatsTableAbi().revision, NEWEST);
});

test('hvkit abi check accepts the schema against every frozen revision', async () => {
  const r = await runAbiCheck(['stats-table']);
  assert.equal(r.errors, 0, r.lines.join('\n'));
});

/** Every field of `a` is in `b` at the same place; a reserved/pad range of `a` may hold new fields in `b`. */
function assertKept(a: ResolvedAbi, b: ResolvedAbi): void {
  for (const s1 of a.structs) {
    const s2 = findStruct(b, s1.name);
    assert.ok(s2, `${s1.name} removed`);
    if (s1.sizing === 'fixed') assert.equal(s2.size, s1.size, `${s1.name} is fixed`);
    else assert.ok(s2.size >= s1.size, `${s1.name} shrank`);
    for (const f of s1.fields) {
      if (f.kind === 'pad' || f.kind === 'reserved') continue; // may be carved
      const f2: ResolvedField | undefined = s2.fields.find((x) => x.name === f.name);
      assert.ok(f2, `${s1.name}.${f.name} removed`);
      assert.deepEqual([f2.offset, f2.size, f2.kind], [f.offset, f.size, f.kind], `${s1.name}.${f.name}`);
    }
  }
}

/** The fields of `b` that are new relative to `a`, as "struct.field". */
function added(a: ResolvedAbi, b: ResolvedAbi): { name: string; inOldRange: boolean }[] {
  const out: { name: string; inOldRange: boolean }[] = [];
  for (const s2 of b.structs) {
    const s1 = findStruct(a, s2.name);
    for (const f of s2.fields) {
      if (f.kind === 'pad' || f.kind === 'reserved' || s1?.fields.some((x) => x.name === f.name)) continue;
      // Inside an old reserved or padding range?
      const carved = !!s1?.fields.some(
        (x) =>
          (x.kind === 'pad' || x.kind === 'reserved') && f.offset >= x.offset && f.offset + f.size <= x.offset + x.size,
      );
      out.push({ name: `${s2.name}.${f.name}`, inOldRange: carved });
    }
  }
  return out;
}

test('every revision keeps every field of the previous one in place', () => {
  for (const n of REVISIONS.slice(1)) assertKept(statsTableRevision(n - 1), statsTableRevision(n));
});

test('revision 2 only appends to revision 1', () => {
  const [r1, r2] = [statsTableRevision(1), statsTableRevision(2)];
  assert.ok(findStruct(r2, 'vcpu')!.size > findStruct(r1, 'vcpu')!.size);
  assert.equal(tableModel(r2).vcpu.length, tableModel(r1).vcpu.length + 1);
  assert.equal(tableModel(r2).dom.length, tableModel(r1).dom.length + 1);
});

test('revision 3 only carves: no struct grows, every new field sits in old reserved bytes or padding', () => {
  const [r2, r3] = [statsTableRevision(2), statsTableRevision(3)];
  for (const s of r2.structs) assert.equal(findStruct(r3, s.name)!.size, s.size, `${s.name} grew`);
  assert.equal(r3.structs.length, r2.structs.length);
  const fresh = added(r2, r3);
  assert.deepEqual(fresh.map((f) => f.name).sort(), [
    'dom.domid',
    'dom.owner_pid',
    'dom.owner_start_time',
    'dom.unique_id',
    'dom.vm_stats_fd',
    'vcpu.host_tid',
    'vcpu.kvm_stats_fd',
    'vcpu_exits.error_exits',
    'vcpu_exits.shutdown_exits',
  ]);
  assert.ok(fresh.every((f) => f.inOldRange));
});

test('revision 4 only appends: vCPU groups vmm and ports after the old end of the vCPU block', () => {
  const [r3, r4] = [statsTableRevision(3), statsTableRevision(4)];
  const oldEnd = findStruct(r3, 'vcpu')!.size;
  const fresh = added(r3, r4).filter((f) => !f.name.startsWith('vcpu_vmm.') && !f.name.startsWith('vcpu_ports.'));
  assert.deepEqual(
    fresh.map((f) => f.name),
    ['vcpu.vmm', 'vcpu.ports'],
  );
  for (const name of ['vmm', 'ports']) {
    assert.ok(findStruct(r4, 'vcpu')!.fields.find((f) => f.name === name)!.offset >= oldEnd, name);
  }
  for (const s of r3.structs) {
    if (s.name !== 'vcpu') assert.equal(findStruct(r4, s.name)!.size, s.size, `${s.name} changed size`);
  }
  assert.deepEqual(
    tableModel(r4).vcpu.map((g) => g.name),
    ['exits', 'halt', 'io', 'vmm', 'ports'],
  );
});

test('the working schema equals the newest frozen revision', () => {
  assert.deepEqual({ ...resolveAbi(spec, NEWEST) }, statsTableRevision(NEWEST));
  assert.equal(currentStatsTableAbi().revision, 0);
});

test('groups sit on their own cache lines with the sequence word first, in every revision', () => {
  for (const rev of REVISIONS) {
    const m = tableModel(statsTableRevision(rev));
    for (const g of [...m.dom, ...m.vcpu, m.vcpuArch!]) {
      assert.equal(g.offset % 64, 0, g.name);
      assert.equal(g.size % 64, 0, g.name);
      assert.equal(g.seqOffset, g.offset, g.name);
      assert.ok(
        g.counters.every((c) => c.field.stat && c.field.inactiveWhenAllOnes),
        g.name,
      );
    }
    assert.ok(m.vcpu.some((g) => g.counters.some((c) => c.field.stat?.type === 'log-hist')));
    assert.equal(m.headerSize, 128);
  }
});
