/**
 * VM exits per call with batch sizes 1, 8 and 64 against direct (unbatched) calls: the `calls`
 * guest on real KVM runs the same rounds of experimental calls each way, and the exits are
 * counted by KVM's own `exits` statistic of the guest's vCPU stats fd, read before start and after
 * the guest finished. Target: at least 32× fewer exits per call at 64 than unbatched.
 *
 * Then, with mitata, the host side of the same work in-process: 64 calls made as one batch flush
 * (copied from and answered into guest memory) against 64 direct dispatches.
 */
import { bench, run, summary } from 'mitata';
import { BATCH_MAGIC, encodeEntry, encodeHeader, HEADER_SIZE, STATUS_PENDING } from '../src/formats/callbatch/index.ts';
import { ANNOTATION, EXPERIMENTAL_CALL, FAMILY } from '../src/formats/callword/constants.ts';
import { callWord } from '../src/formats/callword/word.ts';
import { fdSource, KvmStatsReader } from '../src/formats/kvm-stats/index.ts';
import { StatsTableReader, StatsTableWriter, shippedStatsTableAbi } from '../src/formats/stats-table/index.ts';
import { kvmUnavailableReason } from '../src/kvm/system.ts';
import { createShmRegion } from '../src/shm/shm-file.ts';
import type { DomainEvent } from '../src/vmm/backend.ts';
import { BatchHost } from '../src/vmm/call-batch-host.ts';
import { REPORT } from '../src/vmm/guest-abi.ts';
import { sharedGuestMemory } from '../src/vmm/guest-memory.ts';
import { KvmBackend } from '../src/vmm/kvm-backend.ts';
import { makeDispatcher } from '../test/guest-calls/helpers.ts';

const ROUNDS = 16;
const BATCHES = [0, 1, 8, 64];

const why = kvmUnavailableReason();
if (why) {
  console.log(`skipped: KVM not usable here (${why})`);
  process.exit(0);
}

/** KVM's `exits` and (when the kernel has it) `insn_emulation` of one vCPU. */
function kvmCounts(fd: number): { exits: bigint; emulated: bigint } {
  const reader = KvmStatsReader.open(fdSource(fd));
  const values = reader.readData();
  return {
    exits: reader.value(values, 'exits'),
    emulated: reader.stat('insn_emulation') ? reader.value(values, 'insn_emulation') : 0n,
  };
}

interface Measured {
  calls: bigint;
  /** KVM's exits statistic. */
  exits: bigint;
  /** Exits that reached the VMM (hvkit's exits_total; kicks excluded: none happen here). */
  vmmExits: bigint;
  /** Instructions KVM emulated in software meanwhile (0 when the guest runs natively). */
  emulated: bigint;
}

async function exitsPerCall(backend: KvmBackend, batch: number): Promise<Measured> {
  const abi = shippedStatsTableAbi();
  const statsRegion = `hvkit.bench.${process.pid}.batch${batch}.stats`;
  const region = createShmRegion(statsRegion, StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: 1 });
  const runtime = await backend.createDomain({
    domid: batch + 1,
    uniqueId: BigInt(batch + 1),
    name: `batch${batch}`,
    vcpus: 1,
    memoryMiB: 2,
    workload: 'compute',
    statsRegion,
    statsRevision: abi.revision,
    program: 'calls',
    rounds: ROUNDS,
    arg: batch,
    calls: makeDispatcher(),
  } as Parameters<KvmBackend['createDomain']>[0]);
  try {
    const fd = runtime.kvmStatsFds().vcpus[0]!;
    const events: DomainEvent[] = [];
    const done = new Promise<void>((resolve) =>
      runtime.onEvent((e) => {
        events.push(e);
        if (e.kind !== 'report') resolve();
      }),
    );
    const before = kvmCounts(fd);
    await runtime.start();
    await done;
    const after = kvmCounts(fd);
    const vmmExits = StatsTableReader.open(region, abi)
      .read()
      .vcpus[0]!.groups.find((g) => g.name === 'exits')!
      .counters.find((c) => c.name === 'exits_total')!.value!;
    const report = (code: number) => events.find((e) => e.kind === 'report' && e.code === code) as { value: bigint };
    if (report(REPORT.CALL_ERRORS).value !== 0n) throw new Error(`batch ${batch}: the guest saw wrong results`);
    if (report(REPORT.BATCH_SIZE).value !== BigInt(batch)) throw new Error(`batch ${batch}: not batching`);
    return {
      calls: report(REPORT.CALLS).value,
      exits: after.exits - before.exits,
      vmmExits,
      emulated: after.emulated - before.emulated,
    };
  } finally {
    await runtime.destroy();
    region.close();
  }
}

const backend = KvmBackend.open();
const rows: (Measured & { batch: string })[] = [];
for (const batch of BATCHES)
  rows.push({ batch: batch === 0 ? 'direct' : String(batch), ...(await exitsPerCall(backend, batch)) });
await backend.close();

const per = (n: bigint, calls: bigint) => Number(n) / Number(calls);
console.log(`\nVM exits per call (${ROUNDS} rounds, whole guest run; KVM = the vCPU stats fd's "exits")`);
console.log('batch    calls  KVM exits  KVM/call  fewer   VMM exits  VMM/call  fewer   emulated insns');
for (const r of rows) {
  const k = per(r.exits, r.calls);
  const v = per(r.vmmExits, r.calls);
  console.log(
    `${r.batch.padEnd(7)} ${String(r.calls).padStart(6)} ${String(r.exits).padStart(10)} ${k.toFixed(4).padStart(9)} ${(per(rows[0]!.exits, rows[0]!.calls) / k).toFixed(1).padStart(5)}× ${String(r.vmmExits).padStart(10)} ${v.toFixed(4).padStart(9)} ${(per(rows[0]!.vmmExits, rows[0]!.calls) / v).toFixed(1).padStart(5)}× ${String(r.emulated).padStart(15)}`,
  );
}
const last = rows.at(-1)!;
const ratio64 = per(rows[0]!.exits, rows[0]!.calls) / per(last.exits, last.calls);
console.log(
  `ratio direct / batch 64 (KVM exits): ${ratio64.toFixed(1)}× (target ≥ 32×: ${ratio64 >= 32 ? 'met' : 'NOT met'})`,
);
if (last.emulated > 0n) {
  console.log(
    "note: KVM emulated guest instructions in software here; its exits then include the emulator's own " +
      'returns (proportional to guest instructions, not to calls). The VMM column counts exits that reached user space.',
  );
}
console.log('');

// ---- host side, in-process -------------------------------------------------------------------
const dispatcher = makeDispatcher();
const memoryBuffer = new SharedArrayBuffer(1 << 20);
const memory = sharedGuestMemory(memoryBuffer);
const bytes = new Uint8Array(memoryBuffer);
const GPA = 0x4_0000;
const N = 64;
const add = callWord(FAMILY.experimental, EXPERIMENTAL_CALL.add, ANNOTATION.mayQueue);
bytes.set(encodeHeader({ magic: BATCH_MAGIC, capacity: N, count: N, next: 0, flags: 0 }), GPA);
for (let i = 0; i < N; i++) {
  bytes.set(encodeEntry({ word: add, status: STATUS_PENDING, args: [BigInt(i), 1n] }), GPA + HEADER_SIZE + 64 * i);
}
const host = new BatchHost(1, memory, dispatcher);
const ctx = { caller: { kind: 'guest' as const, domid: 1, vcpu: 0 } };
host.register(0, BigInt(GPA));
const nextView = new DataView(memoryBuffer, GPA + 12, 4);

summary(() => {
  bench('64 calls as one batch flush (host side)', async () => {
    nextView.setUint32(0, 0, true);
    await host.flush(0, ctx);
  });
  bench('64 direct dispatches (host side)', async () => {
    for (let i = 0; i < N; i++) await dispatcher.dispatch(add, [BigInt(i), 1n], ctx);
  });
});
await run();
