/**
 * top's columns find hvkit's VMM counters by field identity, not by name: a table written and
 * read with a revision that renamed the fields a column reads (io_exits → port_io_exits, the
 * group vmm → timing; `hvkit abi check` accepts both with a warning) still fills the column, and
 * a counter of another group that merely ends in `.io_exits` is not taken for it.
 *
 * Real parts: a stats table in /dev/shm named for this process, read by AttachSession. The only
 * help is a source that steps the producer before each sample and stamps the samples one second
 * apart, so the rates are exact.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { HostSample, SampleSource } from '../../src/attach/sample.ts';
import { AttachSession } from '../../src/attach/session.ts';
import { tableName } from '../../src/attach/tables.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { processStartTime } from '../../src/os/procfs.ts';
import type { Region } from '../../src/shm/region.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';
import { runTop } from '../../src/tools/top/run.ts';
import { renamedRevision } from '../stats-table/renamed-revision.ts';
import { Capture } from './fixtures/samples.ts';

const VCPUS = 2;
const SECOND = 1_000_000_000n;
const abi = renamedRevision();
const regions: Region[] = [];

after(() => {
  for (const r of regions) r.close();
});

/** A live table of the renamed revision, owned by this process, as a host would publish it. */
function publishTable(domid: number, uniqueId: bigint): StatsTableWriter {
  const start = processStartTime(process.pid);
  assert.ok(start !== undefined);
  const region = createShmRegion(
    tableName(process.pid, start, domid, uniqueId),
    StatsTableWriter.plan(abi, { nrVcpus: VCPUS }).regionSize,
  );
  regions.push(region);
  const writer = StatsTableWriter.create(region, abi, { nrVcpus: VCPUS });
  writer.setIdentity({ domid, uniqueId, ownerPid: process.pid, ownerStartTime: start, name: 'renamed' });
  return writer;
}

/**
 * At sample n, vCPU v has made 100·n exits, 40·(v+1)·n of them port I/O, ran the guest for
 * n/2 seconds; the unrelated io.io_exits counter stands at 7·n.
 */
class SteppedSource implements SampleSource {
  #n = 0;
  constructor(
    private readonly writer: StatsTableWriter,
    private readonly inner: AttachSession,
  ) {}

  sample(): HostSample {
    const n = BigInt(this.#n++);
    for (let v = 0; v < VCPUS; v++) {
      this.writer.update(v, 'exits', (g) => {
        g.set(g.counter('exits_total'), 100n * n);
        g.set(g.counter('port_io_exits'), 40n * BigInt(v + 1) * n);
      });
      this.writer.update(v, 'io', (g) => g.set(g.counter('io_exits'), 7n * n));
      this.writer.update(v, 'timing', (g) => g.set(g.counter('run_time_ns'), (SECOND / 2n) * n));
    }
    // Every read at the step's time: the counters were written for exactly those intervals.
    const sample = this.inner.sample();
    return { ...sample, at: n * SECOND, vms: sample.vms.map((vm) => ({ ...vm, at: n * SECOND })) };
  }

  close(): void {
    this.inner.close();
  }
}

async function top(writer: StatsTableWriter, options: Parameters<typeof runTop>[1]) {
  const source = new SteppedSource(writer, new AttachSession({ pids: [process.pid], debugfs: false, tableAbi: abi }));
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runTop(source, { intervalMs: 100, once: true, ...options }, { stdout, stderr });
  assert.equal(code, 0, stderr.text);
  return stdout.text;
}

test('renamed fields keep their columns; a namesake in another group is not picked (--json --once)', async () => {
  const writer = publishTable(77, 0x7e57_0000_0000_0077n);
  const doc = JSON.parse(await top(writer, { json: true }));
  const vm = doc.vms.find((v: { domid: number }) => v.domid === 77);
  assert.ok(vm, JSON.stringify(doc.vms.map((v: { name: string }) => v.name)));
  assert.deepEqual(vm.sources, ['stats-table']);
  const names = vm.vcpus[0].stats.map((s: { name: string }) => s.name);
  assert.ok(names.includes('exits.port_io_exits') && names.includes('io.io_exits'), names.join(' '));
  assert.deepEqual(
    vm.vcpus.map((v: { rates: object }) => v.rates),
    [
      { exits: 100, halt: 0, io: 40, mmio: 0, run: 50 },
      { exits: 100, halt: 0, io: 80, mmio: 0, run: 50 },
    ],
  );
  assert.deepEqual(vm.rates, { exits: 200, halt: 0, io: 120, mmio: 0, run: 100 });
});

test('the plain --once screen shows the renamed counter in the IO/s column', async () => {
  const writer = publishTable(78, 0x7e57_0000_0000_0078n);
  const lines = (await top(writer, {})).split('\n');
  const header = lines.find((l) => l.startsWith('NAME'));
  const row = lines.find((l) => / 78 /.test(l) && l.startsWith('renamed'));
  assert.ok(header && row, lines.join('\n'));
  const column = header.indexOf('IO/s');
  assert.ok(column > 0, header);
  // Right-aligned under its title: the cell ends where the title ends.
  const cell = row
    .slice(0, column + 'IO/s'.length)
    .split(/ +/)
    .at(-1);
  assert.equal(cell, '120', `${header}\n${row}`);
});
