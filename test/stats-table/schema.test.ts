import assert from 'node:assert/strict';
import { test } from 'node:test';
import spec from '../../schemas/stats-table/schema.ts';
import { runAbiCheck } from '../../src/abi/check.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { findStruct } from '../../src/abi/resolved.ts';
import { currentStatsTableAbi, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { tableModel } from '../../src/formats/stats-table/model.ts';

test('hvkit abi check accepts the schema against both frozen revisions', async () => {
  const r = await runAbiCheck(['stats-table']);
  assert.equal(r.errors, 0, r.lines.join('\n'));
});

test('revision 2 only appends to revision 1', () => {
  const [r1, r2] = [statsTableRevision(1), statsTableRevision(2)];
  for (const s1 of r1.structs) {
    const s2 = findStruct(r2, s1.name)!;
    assert.ok(s2, s1.name);
    if (s1.sizing === 'fixed') assert.equal(s2.size, s1.size, `${s1.name} is fixed`);
    else assert.ok(s2.size >= s1.size, `${s1.name} shrank`);
    for (const f of s1.fields) {
      const f2 = s2.fields.find((x) => x.name === f.name)!;
      assert.ok(f2, `${s1.name}.${f.name} removed`);
      assert.deepEqual([f2.offset, f2.size, f2.kind], [f.offset, f.size, f.kind], `${s1.name}.${f.name}`);
    }
  }
  assert.ok(findStruct(r2, 'vcpu')!.size > findStruct(r1, 'vcpu')!.size);
  assert.equal(tableModel(r2).vcpu.length, tableModel(r1).vcpu.length + 1);
  assert.equal(tableModel(r2).dom.length, tableModel(r1).dom.length + 1);
});

test('the working schema is revision 2 as frozen', () => {
  assert.deepEqual({ ...resolveAbi(spec, 2) }, statsTableRevision(2));
  assert.equal(currentStatsTableAbi().revision, 0);
});

test('groups sit on their own cache lines with the sequence word first', () => {
  const m = tableModel(statsTableRevision(2));
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
});
