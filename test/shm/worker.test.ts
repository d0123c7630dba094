import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { sharedRegionFrom } from '../../src/shm/region.ts';
import { startTsWorker } from './ts-worker.ts';

test('SharedArrayBuffer across worker threads: writer in a worker, consistent snapshots in main', async () => {
  const abi = statsTableRevision(2);
  const table = new SharedArrayBuffer(StatsTableWriter.plan(abi, { nrVcpus: 2 }).regionSize);
  const ctrl = new SharedArrayBuffer(4);
  const control = new Int32Array(ctrl);
  const iterations = 300_000;
  const worker = startTsWorker(new URL('./fixtures/sab-writer.ts', import.meta.url), { table, ctrl, iterations });
  const exited = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
  // Wait for the table without blocking the event loop (a failing worker must be able to report).
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    exited.then(() => reject(new Error('the worker exited before publishing the table')), reject);
  });
  assert.equal(Atomics.load(control, 0) >= 1, true, 'the worker published the table');

  const region = sharedRegionFrom(table);
  const reader = StatsTableReader.open(region, abi);
  const snap = reader.allocSnapshot();
  let snapshots = 0;
  let retries = 0;
  let torn = 0;
  let last = -1n;
  while (Atomics.load(control, 0) !== 2 || snapshots === 0) {
    const t = reader.decode(reader.snapshot(snap));
    snapshots++;
    retries += t.retries;
    torn += t.tornCount;
    const g = t.vcpus[0]!.groups[0]!;
    if (g.state !== 'ok') continue;
    const values = g.counters.map((c) => c.value!);
    assert.ok(
      values.every((v) => v === values[0]),
      `unequal counters ${values}`,
    );
    assert.ok(values[0]! >= last, 'counters never go back');
    last = values[0]!;
  }
  assert.equal(await exited, 0);
  const final = reader.read().vcpus[0]!.groups[0]!;
  assert.deepEqual(
    final.counters.map((c) => c.value),
    final.counters.map(() => BigInt(iterations)),
  );
  console.log(`# ${snapshots} snapshots during the updates, ${retries} retries, ${torn} torn`);
  region.close();
});
