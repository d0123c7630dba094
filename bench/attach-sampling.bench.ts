/**
 * The cost of AttachSession.sample() per VM on a synthetic host of N hvkit domains × 4 vCPUs
 * (stats tables in /dev/shm named for this process, test/support/synthetic-host.ts; no vCPU
 * threads, so the observer is measured alone), N = 1, 100, 1000, against the physical limit in
 * the same run:
 *
 *  memcpy     one copy of every table's bytes from its mapping (what a reader cannot go below);
 *  snapshot   the stats-table protocol alone: the seqlocked snapshot of every table (an
 *             Atomics.load of each group's sequence word before and after the copy; see
 *             BENCHMARKS.md "Stats table" for why those loads cost more than the copy on Node 20);
 *  idle       AttachSession.sample() while no counter changes (the common case between two
 *             samples of an idle VM: every StatSample is the previous one, reused);
 *  busy       every counter of every table changed since the last sample (host.step() before each
 *             sample; the step's own time, measured alone, is subtracted): one BigInt per counter
 *             and bucket and one StatSample per counter;
 *  floor      the allocation floor of HostSample's shape for a busy VM: the same number of lists,
 *             objects and BigInts made from the snapshot with no checks at all, each round's kept
 *             until the next (as the session keeps its last samples and top its previous one).
 *
 * Also printed: the heap one HostSample holds (after a forced GC, with and without it), and the
 * ratio of the per-sample time between sizes (linear growth: ×100 VMs should cost ~×100).
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bench, do_not_optimize, run, summary } from 'mitata';
import type { HostSample } from '../src/attach/sample.ts';
import { AttachSession } from '../src/attach/session.ts';
import { StatsTableReader } from '../src/formats/stats-table/reader.ts';
import { openShmRegion } from '../src/shm/shm-file.ts';
import { SyntheticHost } from '../test/support/synthetic-host.ts';

const VCPUS = 4;
const SIZES = [1, 100, 1000];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Row {
  vms: number;
  stats: number;
  values: number;
  bytes: number;
  memcpy: number;
  snapshot: number;
  idle: number;
  busy: number;
  floor: number;
  idleHeap: number;
  busyHeap: number;
}

const avg = (b: { runs: { stats?: { avg: number } }[] } | undefined) => b?.runs[0]?.stats?.avg ?? Number.NaN;
const us = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`);

/**
 * Heap held per sample: used heap after a GC with `count` consecutive samples kept alive, minus
 * before, divided by `count` (consecutive idle samples share every unchanged StatSample, so this
 * is the cost of one more sample in a history of them).
 */
function heldBytes(count: number, take: () => HostSample): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  let kept: HostSample[] | undefined = [];
  for (let i = 0; i < count; i++) kept.push(take());
  gc();
  const after = process.memoryUsage().heapUsed;
  do_not_optimize(kept);
  kept = undefined;
  return (after - before) / count;
}

/**
 * The floor of HostSample's shape when every counter changed: per VM one fresh list per block,
 * one object per stat and one BigInt per value or bucket read from the snapshot — no checks, no
 * lookups. What a busy sample cannot go below in JavaScript.
 */
function shapeFloor(snapshot: Uint8Array, stats: number, values: number, blocks: number): unknown[][] {
  const u64 = new BigUint64Array(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength >>> 3);
  const out: unknown[][] = [];
  let list: unknown[] = [];
  const perBlock = Math.ceil(stats / blocks);
  const bucketsPerStat = Math.max(1, Math.floor((values - stats) / stats) + 1);
  let w = 0;
  for (let i = 0; i < stats; i++) {
    if (i % perBlock === 0) {
      list = [];
      out.push(list);
    }
    const extra = i < values - stats ? bucketsPerStat - 1 : 0;
    if (extra === 0)
      list.push({ name: 'n', kind: 'counter', unit: null, origin: 'vmm', value: u64[w++ % u64.length]! });
    else {
      const buckets: bigint[] = new Array(extra + 1);
      for (let k = 0; k <= extra; k++) buckets[k] = u64[w++ % u64.length]!;
      list.push({ name: 'n', kind: 'histogram', unit: null, origin: 'vmm', buckets });
    }
  }
  return out;
}

async function measure(vms: number): Promise<Row> {
  const host = SyntheticHost.create({ vms, vcpus: VCPUS, firstDomid: 1 });
  const session = new AttachSession({ pids: [process.pid], debugfs: false });
  const regions = host.vms.map((v) => openShmRegion(v.name));
  const readers = regions.map((r) => StatsTableReader.open(r, host.abi));
  const snaps = readers.map((r) => r.allocSnapshot());
  const copies = readers.map((r) => new Uint8Array(r.extent));
  const sources = regions.map((r, i) => r.bytes.subarray(0, copies[i]!.length));
  try {
    const first = session.sample();
    if (first.vms.length !== vms) throw new RangeError(`expected ${vms} VMs, sampled ${first.vms.length}`);
    const one = first.vms[0]!;
    const all = [...one.vm, ...one.vcpus.flatMap((v) => v.stats)];
    const stats = all.length;
    const values = all.reduce((n, s) => n + (s.buckets?.length ?? 1), 0);
    const bytes = readers[0]!.extent;
    for (const v of first.vms) if (v.name.startsWith('syn') === false) throw new RangeError(`foreign VM ${v.name}`);
    const tag = `${vms} VMs`;
    summary(() => {
      bench(`${tag}: memcpy of every table`, () => {
        for (let i = 0; i < regions.length; i++) copies[i]!.set(sources[i]!);
        do_not_optimize(copies);
      }).baseline(true);
      bench(`${tag}: seqlocked snapshot of every table`, () => {
        for (let i = 0; i < readers.length; i++) do_not_optimize(readers[i]!.snapshot(snaps[i]));
      });
      bench(`${tag}: AttachSession.sample(), idle`, () => do_not_optimize(session.sample()));
      // Kept until the next round, as the session keeps its last samples (and top its previous sample).
      const keptFloor: unknown[] = new Array(snaps.length);
      bench(`${tag}: shape floor (lists, objects, BigInts)`, () => {
        for (let i = 0; i < snaps.length; i++) keptFloor[i] = shapeFloor(snaps[i]!.bytes, stats, values, VCPUS + 1);
        do_not_optimize(keptFloor);
      });
      bench(`${tag}: host.step() alone`, () => do_not_optimize(host.step()));
      bench(`${tag}: host.step() + AttachSession.sample(), busy`, () => {
        host.step();
        do_not_optimize(session.sample());
      });
    });
    const { benchmarks } = await run({ format: 'quiet' });
    const find = (s: string) => avg(benchmarks.find((b) => b.alias === `${tag}: ${s}`));
    const count = Math.ceil(1000 / vms);
    const idleHeap = heldBytes(count, () => session.sample());
    const busyHeap = heldBytes(count, () => {
      host.step();
      return session.sample();
    });
    return {
      vms,
      stats,
      values,
      bytes,
      memcpy: find('memcpy of every table'),
      snapshot: find('seqlocked snapshot of every table'),
      idle: find('AttachSession.sample(), idle'),
      busy: find('host.step() + AttachSession.sample(), busy') - find('host.step() alone'),
      floor: find('shape floor (lists, objects, BigInts)'),
      idleHeap,
      busyHeap,
    };
  } finally {
    for (const r of regions) r.close();
    session.close();
    host.close();
  }
}

const rows: Row[] = [];
for (const n of SIZES) rows.push(await measure(n));

const r0 = rows[0]!;
console.log(
  `\nsynthetic host: N VMs × ${VCPUS} vCPUs; per VM ${r0.stats} stats (${r0.values} u64 values with the buckets), ${r0.bytes} table bytes.`,
);
console.log('Per VM per sample (ratios to the memcpy of the same bytes, same run):');
console.log(
  '   N  memcpy    snapshot            idle sample          busy sample          busy floor           heap per sample: idle  busy',
);
const cell = (ns: number, r: Row) => `${us(ns / r.vms)} (${(ns / r.memcpy).toFixed(1)}×)`.padEnd(21);
for (const r of rows) {
  console.log(
    `${String(r.vms).padStart(4)}  ${us(r.memcpy / r.vms).padEnd(9)} ${cell(r.snapshot, r)}${cell(r.idle, r)}${cell(r.busy, r)}${cell(r.floor, r)}` +
      `${(r.idleHeap / r.vms / 1024).toFixed(2)} KiB`.padStart(12) +
      `${(r.busyHeap / r.vms / 1024).toFixed(1)} KiB`.padStart(11),
  );
}
console.log('\nlinear growth (time per sample between sizes; linear = the ratio of N):');
for (let i = 1; i < rows.length; i++) {
  const a = rows[i - 1]!;
  const b = rows[i]!;
  console.log(
    `  ${a.vms} → ${b.vms} VMs (×${b.vms / a.vms}): idle ×${(b.idle / a.idle).toFixed(1)}, busy ×${(b.busy / a.busy).toFixed(1)}, memcpy ×${(b.memcpy / a.memcpy).toFixed(1)}, snapshot ×${(b.snapshot / a.snapshot).toFixed(1)}`,
  );
}
