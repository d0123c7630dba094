/**
 * The stats table's two hot paths against their physical peers, in the same run:
 *  - a consistent snapshot of a 64-vCPU × 64-counter table (every group bracketed by its seqlock)
 *    vs a plain Buffer copy of the same bytes. Target: ≤ 3×.
 *  - one group update (seq odd, 8 counter increments, seq even) vs the same 8 u64 increments on a
 *    plain typed array with no sequence word. Target: ≤ 2×.
 * Both are measured on a SharedArrayBuffer region and on a /dev/shm mapping.
 */
import { existsSync } from 'node:fs';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { statsTableRevision } from '../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../src/formats/stats-table/writer.ts';
import { createSharedRegion, type Region } from '../src/shm/region.ts';
import { createShmRegion } from '../src/shm/shm-file.ts';

const abi = statsTableRevision(2);
const options = { nrVcpus: 64 } as const;
const size = StatsTableWriter.plan(abi, options).regionSize;

function setUp(region: Region) {
  const writer = StatsTableWriter.create(region, abi, options);
  for (let v = 0; v < 64; v++) {
    for (const g of writer.model.vcpu) {
      writer.vcpu(v, g.name).update((h) => {
        for (const c of h.model.counters)
          for (let e = 0; e < c.count; e++) h.add(h.counter(c.name) + 2 * e, v * 1000 + e);
      });
    }
  }
  const reader = StatsTableReader.open(region, abi);
  const snap = reader.allocSnapshot();
  const copy = Buffer.alloc(reader.extent);
  const src = Buffer.from(region.bytes.buffer, region.bytes.byteOffset, reader.extent);
  const exits = writer.vcpu(3, 'exits');
  const ids = exits.model.counters.map((c) => exits.counter(c.name));
  return { writer, reader, snap, copy, src, exits, ids };
}

const counters = StatsTableReader.open(
  (() => {
    const r = createSharedRegion(size);
    StatsTableWriter.create(r, abi, options);
    return r;
  })(),
  abi,
).model.vcpu.reduce((n, g) => n + g.counters.reduce((m, c) => m + c.count, 0), 0);

const regions: [string, Region][] = [['SharedArrayBuffer', createSharedRegion(size)]];
const shmName = `hvkit-bench-${process.pid}`;
if (existsSync('/dev/shm')) regions.push(['/dev/shm mapping', createShmRegion(shmName, size)]);

/** The peer of a group update: the same lo/hi increments with carry, no sequence word. */
const plain = new Uint32Array(64);
function plainIncrements(n: number): void {
  for (let k = 0; k < 8; k++) {
    const i = 2 * k;
    const lo = plain[i]! + n;
    plain[i] = lo;
    if (lo >= 0x1_0000_0000) plain[i + 1] = plain[i + 1]! + 1;
  }
}

try {
  const fixtures = regions.map(([label, region]) => ({ label, ...setUp(region) }));
  console.log(
    `table: 64 vCPUs × ${counters} u64 counters per vCPU, ${fixtures[0]!.reader.extent} bytes, ${fixtures[0]!.reader.readSlots.length} groups`,
  );
  for (const f of fixtures) {
    summary(() => {
      bench(`${f.label}: snapshot (seqlock per group)`, () => do_not_optimize(f.reader.snapshot(f.snap)));
      bench(`${f.label}: peer Buffer copy of the same bytes`, () => do_not_optimize(f.src.copy(f.copy)));
      bench(`${f.label}: snapshot + decode to BigInt (informational)`, () =>
        do_not_optimize(f.reader.decode(f.reader.snapshot(f.snap))),
      );
    });
    summary(() => {
      const { exits, ids } = f;
      bench(`${f.label}: group update (seq, 8 increments, seq)`, () => {
        exits.begin();
        for (let k = 0; k < 8; k++) exits.add(ids[k]!, 1);
        exits.end();
      });
      bench(`${f.label}: peer plain typed-array increments`, () => plainIncrements(1));
      bench(`${f.label}: floor: plain increments + two Atomics.store (informational)`, () => {
        Atomics.store(plain, 63, 1);
        plainIncrements(1);
        Atomics.store(plain, 63, 2);
      });
    });
  }
  const { benchmarks } = await run();
  const avg = (alias: string) => benchmarks.find((b) => b.alias === alias)?.runs[0]?.stats?.avg ?? Number.NaN;
  console.log('');
  for (const f of fixtures) {
    const snapRatio =
      avg(`${f.label}: snapshot (seqlock per group)`) / avg(`${f.label}: peer Buffer copy of the same bytes`);
    const updRatio =
      avg(`${f.label}: group update (seq, 8 increments, seq)`) / avg(`${f.label}: peer plain typed-array increments`);
    console.log(`${f.label}: snapshot / Buffer copy = ${snapRatio.toFixed(2)}x (target <= 3x)`);
    const floor =
      avg(`${f.label}: floor: plain increments + two Atomics.store (informational)`) /
      avg(`${f.label}: peer plain typed-array increments`);
    console.log(
      `${f.label}: group update / plain increments = ${updRatio.toFixed(2)}x (target <= 2x; the two atomic stores alone: ${floor.toFixed(2)}x)`,
    );
  }
} finally {
  for (const [, region] of regions) region.close();
}
