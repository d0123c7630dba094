/**
 * The stats table's two hot paths against their physical peers, in the same run, on a
 * SharedArrayBuffer region and on a /dev/shm mapping (koffi view: a non-shared ArrayBuffer).
 *
 *  (a) snapshot() of a 64-vCPU × 64-counter table vs a Buffer copy of the same bytes. Target ≤ 3×.
 *      Floor: the protocol itself — one Atomics.load of every group's sequence word before the
 *      copy and one after — done by hand on the same words, around the same copy.
 *  (b) one group update (seq odd, 8 u64 counters += 1, seq even) vs the same 8 u64 increments of
 *      the same words of the same region with no sequence word. Target ≤ 2×.
 *      Floor: the same increments plus the one Atomics.store that publishes the update.
 *
 * On Node 20 (V8 11.3) TurboFan does not inline Atomics.load/store: each is a call into a generic
 * builtin (type check, index conversion, bounds check, boxing) of ~10-15 ns, whatever the buffer.
 * That per-call cost, times the number of sequence words, is what the floors measure.
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
  // The word index of every sequence word a snapshot reads, for the hand-made floor.
  const seqWords = Uint32Array.from(reader.readSlots, (i) => {
    const s = reader.slots[i]!;
    return (s.blockStart + s.group.seqOffset) / 4;
  });
  const exits = writer.vcpu(3, 'exits');
  const ids = Uint32Array.from(exits.model.counters, (c) => exits.counter(c.name));
  return { region, writer, reader, snap, copy, src, seqWords, exits, ids };
}

type Fixture = ReturnType<typeof setUp> & { label: string };

const seen = new Uint32Array(1024);

/** Floor of (a): what any seqlock snapshot must do — load every seq word, copy, load them again. */
function protocolFloor(f: Fixture): void {
  const words = f.region.words;
  const seq = f.seqWords;
  for (let k = 0; k < seq.length; k++) seen[k] = Atomics.load(words, seq[k]!);
  f.src.copy(f.copy);
  let changed = 0;
  for (let k = 0; k < seq.length; k++) if (Atomics.load(words, seq[k]!) !== seen[k]) changed++;
  do_not_optimize(changed);
}

/** Peer of (b): the same u64 lo/hi increments with carry, on the same region words, no sequence word. */
function plainIncrements(words: Uint32Array, ids: Uint32Array): void {
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    const lo = words[id]! + 1;
    words[id] = lo;
    if (lo >= 0x1_0000_0000) words[id + 1] = words[id + 1]! + 1;
  }
}

const regions: [string, Region][] = [['SharedArrayBuffer', createSharedRegion(size)]];
const shmName = `hvkit-bench-${process.pid}`;
if (existsSync('/dev/shm')) regions.push(['/dev/shm mapping', createShmRegion(shmName, size)]);

try {
  const fixtures: Fixture[] = regions.map(([label, region]) => ({ label, ...setUp(region) }));
  const f0 = fixtures[0]!;
  const nGroups = f0.seqWords.length;
  const counters = f0.writer.model.vcpu.reduce((n, g) => n + g.counters.reduce((m, c) => m + c.count, 0), 0);
  const nIds = f0.ids.length;
  console.log(
    `table: 64 vCPUs × ${counters} u64 counters, ${f0.reader.extent} bytes, ${nGroups} groups read\n` +
      `(a) snapshot = ${2 * nGroups} Atomics.load (before/after per group) + one copy of ${f0.reader.extent} bytes` +
      ` + header check; peer = Buffer copy of the same ${f0.reader.extent} bytes\n` +
      `(b) update = begin (seq odd, plain store on x64) + ${nIds} × add(id, 1) (u64 += 1) + end (seq even, Atomics.store), vCPU 3 'exits';` +
      ` peer = the same ${nIds} u64 increments on the same words of the same region`,
  );
  const A = {
    snap: (f: Fixture) => `${f.label}: (a) snapshot()`,
    copy: (f: Fixture) => `${f.label}: (a) peer: Buffer copy of the same bytes`,
    floor: (f: Fixture) => `${f.label}: (a) floor: ${2 * nGroups} Atomics.load + the same copy`,
    decode: (f: Fixture) => `${f.label}: (a) snapshot + decode to BigInt (informational)`,
  };
  const B = {
    upd: (f: Fixture) => `${f.label}: (b) group update (begin, ${nIds} add, end)`,
    plain: (f: Fixture) => `${f.label}: (b) peer: ${nIds} plain u64 increments, same words`,
    floor1: (f: Fixture) => `${f.label}: (b) floor: peer + 1 Atomics.store`,
    floor2: (f: Fixture) => `${f.label}: (b) peer + 2 Atomics.store (informational)`,
  };
  for (const f of fixtures) {
    summary(() => {
      bench(A.snap(f), () => do_not_optimize(f.reader.snapshot(f.snap)));
      bench(A.copy(f), () => do_not_optimize(f.src.copy(f.copy)));
      bench(A.floor(f), () => protocolFloor(f));
      bench(A.decode(f), () => do_not_optimize(f.reader.decode(f.reader.snapshot(f.snap))));
    });
    summary(() => {
      const { exits, ids } = f;
      const words = f.region.words;
      const seqIndex = exits.seqIndex;
      bench(B.upd(f), () => {
        exits.begin();
        for (let k = 0; k < ids.length; k++) exits.add(ids[k]!, 1);
        exits.end();
      });
      bench(B.plain(f), () => plainIncrements(words, ids));
      bench(B.floor1(f), () => {
        plainIncrements(words, ids);
        Atomics.store(words, seqIndex, 0);
      });
      bench(B.floor2(f), () => {
        Atomics.store(words, seqIndex, 1);
        plainIncrements(words, ids);
        Atomics.store(words, seqIndex, 0);
      });
    });
  }
  const { benchmarks } = await run();
  const avg = (alias: string) => benchmarks.find((b) => b.alias === alias)?.runs[0]?.stats?.avg ?? Number.NaN;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  console.log('');
  for (const f of fixtures) {
    const copy = avg(A.copy(f));
    const floorA = avg(A.floor(f));
    console.log(
      `${f.label}: (a) snapshot / copy = ${x(avg(A.snap(f)), copy)} (target <= 3x);` +
        ` floor / copy = ${x(floorA, copy)}; Atomics.load ≈ ${((floorA - copy) / (2 * nGroups)).toFixed(1)} ns each`,
    );
    const plain = avg(B.plain(f));
    console.log(
      `${f.label}: (b) update / plain = ${x(avg(B.upd(f)), plain)} (target <= 2x);` +
        ` floor (1 Atomics.store) / plain = ${x(avg(B.floor1(f)), plain)};` +
        ` with 2 Atomics.store = ${x(avg(B.floor2(f)), plain)}`,
    );
  }
} finally {
  for (const [, region] of regions) region.close();
}
