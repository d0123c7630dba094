/**
 * A renamed field or group is the same field: its identity (block, group bit, offset in the group)
 * is what the reader goes by when it compares the consumer's revision with the producer's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCompat } from '../../src/abi/compat.ts';
import { frozenStatsTableRevisions, statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { checkStatsTable } from '../../src/formats/stats-table/checker.ts';
import { counterId, tableModel } from '../../src/formats/stats-table/model.ts';
import { type DecodedTable, StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { createSharedRegion } from '../../src/shm/region.ts';
import { RENAMED_REVISION, renamedRevision } from './renamed-revision.ts';

const PRODUCER = RENAMED_REVISION - 1;

function counterOf(table: DecodedTable, vcpu: number, group: string, counter: string) {
  return table.vcpus[vcpu]?.groups.find((g) => g.name === group)?.counters.find((c) => c.name === counter);
}

test('the renamed revision is one hvkit abi check accepts: the renames are warnings only', () => {
  const report = checkCompat(renamedRevision(), frozenStatsTableRevisions().map(statsTableRevision));
  assert.equal(report.errors, 0, JSON.stringify(report.violations));
  assert.deepEqual(
    report.violations.map((v) => `${v.severity} ${v.struct}.${v.field} ${v.rule}`),
    ['warning vcpu_exits.port_io_exits renamed', 'warning vcpu.timing renamed'],
  );
});

test('a renamed field keeps its identity; a namesake in another group has another', () => {
  const before = tableModel(statsTableRevision(PRODUCER));
  const after = tableModel(renamedRevision());
  assert.deepEqual(counterId(after, 'vcpu', 'exits', 'port_io_exits'), counterId(before, 'vcpu', 'exits', 'io_exits'));
  assert.deepEqual(counterId(after, 'vcpu', 'timing', 'run_time_ns'), counterId(before, 'vcpu', 'vmm', 'run_time_ns'));
  assert.notDeepEqual(counterId(after, 'vcpu', 'io', 'io_exits'), counterId(before, 'vcpu', 'exits', 'io_exits'));
  assert.equal(counterId(after, 'vcpu', 'exits', 'io_exits'), undefined);
});

test('a consumer of the renamed revision reads an older producer’s field under its new name, and no carved one', () => {
  const abi = statsTableRevision(PRODUCER);
  const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 2 }).regionSize);
  try {
    const writer = StatsTableWriter.create(region, abi, { nrVcpus: 2 });
    writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 41n));
    writer.update(1, 'vmm', (g) => g.set(g.counter('run_time_ns'), 9n));
    const consumer = renamedRevision();
    const table = StatsTableReader.open(region, consumer).read();
    // Before: the reader looked the consumer's names up in the producer's revision, so a renamed
    // counter was "carved after the producer" (absent), and a renamed group hid its carved counters.
    assert.deepEqual(pick(counterOf(table, 1, 'exits', 'port_io_exits')), { state: 'value', value: 41n });
    assert.deepEqual(pick(counterOf(table, 1, 'timing', 'run_time_ns')), { state: 'value', value: 9n });
    assert.deepEqual(pick(counterOf(table, 1, 'timing', 'spare_ns')), { state: 'absent', value: undefined });
    assert.deepEqual(pick(counterOf(table, 1, 'io', 'io_exits')), { state: 'absent', value: undefined });
    assert.deepEqual(checkStatsTable(region, consumer).violations, []);
  } finally {
    region.close();
  }
});

function pick(c: { state: string; value?: bigint } | undefined) {
  return { state: c?.state, value: c?.value };
}
