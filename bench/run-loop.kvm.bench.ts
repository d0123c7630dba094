/**
 * Exits per second of hvkit's run loop — a port I/O exit decoded, handled by the device model and
 * counted in the stats table in TypeScript, then back into the guest — against a minimal C run
 * loop (bench/c/run_loop.c, compiled here) running the same guest binary (the `io` workload) on
 * the same KVM, in the same run. Both handle every exit the same way (OUT latched, IN answered
 * from the latch); the C loop writes no statistics. Printed: ns per exit of each and the ratio.
 *
 * The TypeScript side is the vCPU worker's own code (KvmCore + PortDevices + VcpuStats), driven
 * on this thread by mitata; HLT exits (one per 8 rounds) are counted but not slept on by either.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench, run, summary } from 'mitata';
import { StatsTableWriter, shippedStatsTableAbi } from '../src/formats/stats-table/index.ts';
import { enterProtectedMode } from '../src/kvm/protected-mode.ts';
import { KvmSystem, kvmUnavailableReason } from '../src/kvm/system.ts';
import { createSharedRegion } from '../src/shm/region.ts';
import { EXIT } from '../src/vmm/cpu-core.ts';
import { PortDevices } from '../src/vmm/devices.ts';
import { DEVICE_IN_XOR, entryRegisters, GUEST_LOAD_ADDRESS } from '../src/vmm/guest-abi.ts';
import { buildWorkloadGuest } from '../src/vmm/guests.ts';
import { KvmCore } from '../src/vmm/kvm-core.ts';
import { VcpuStats } from '../src/vmm/vcpu-stats.ts';

const EXITS = 20_000;

const why = kvmUnavailableReason();
if (why) {
  console.log(`skipped: KVM not usable here (${why})`);
  process.exit(0);
}

const image = buildWorkloadGuest('io');
const dir = mkdtempSync(join(tmpdir(), 'hvkit-run-loop-'));
const cLoop = join(dir, 'run_loop');
const cc = spawnSync(
  'cc',
  [
    '-std=c11',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-O2',
    '-o',
    cLoop,
    fileURLToPath(new URL('./c/run_loop.c', import.meta.url)),
  ],
  { encoding: 'utf8' },
);
if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);

/** ns per exit of the C loop over `EXITS` exits (best of 5 runs, like mitata's minimum). */
function cNsPerExit(): number {
  let best = Number.POSITIVE_INFINITY;
  const { rsp } = entryRegisters(0, 0);
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(
      cLoop,
      [image.path, String(GUEST_LOAD_ADDRESS), String(rsp), '0', String(EXITS), String(DEVICE_IN_XOR)],
      { encoding: 'utf8' },
    );
    const m = /exits=(\d+) ns=(\d+)/.exec(r.stdout);
    if (r.status !== 0 || !m) throw new Error(`C run loop failed: ${r.stderr}`);
    best = Math.min(best, Number(m[2]) / Number(m[1]));
  }
  return best;
}

const kvm = KvmSystem.open();
const vm = kvm.createVm();
const abi = shippedStatsTableAbi();
const region = createSharedRegion(StatsTableWriter.plan(abi, { nrVcpus: 1 }).regionSize);
try {
  vm.addMemory(0n, 2 << 20).write(BigInt(GUEST_LOAD_ADDRESS), image.bytes);
  const vcpu = vm.createVcpu(0);
  enterProtectedMode(vcpu, GUEST_LOAD_ADDRESS, entryRegisters(0, 0));
  const core = new KvmCore(0, vcpu.fd, vcpu.runArea);
  const stats = new VcpuStats(StatsTableWriter.create(region, abi, { nrVcpus: 1 }), 0);
  const devices = new PortDevices();
  const io = core.io;
  const now = () => performance.now() * 1e6;

  /** The vCPU worker's per-exit work (vcpu-loop.ts), minus the halt sleep and the control word. */
  function oneExit(): void {
    const t0 = now();
    const kind = core.run();
    const t1 = now();
    let reports = 0;
    if (kind === EXIT.IO) {
      stats.exit('io_exits');
      if (io.direction === 1) {
        for (let i = 0; i < io.count; i++) if (devices.out(io.port, core.ioValue(i))) reports++;
      } else {
        for (let i = 0; i < io.count; i++) core.setIoValue(i, devices.in(io.port, io.size));
      }
      stats.portIo(io.port, io.size, io.count, Math.round(now() - t1));
    } else if (kind === EXIT.HLT) stats.exit('hlt_exits');
    else throw new Error(`unexpected exit ${kind}: ${core.describeExit(kind)}`);
    stats.timing(Math.round(t1 - t0), Math.round(now() - t1), reports);
  }

  const c = cNsPerExit();
  summary(() => {
    bench('hvkit TS run loop: one port I/O exit round trip (+ stats)', () => oneExit());
  });
  const result = await run({ format: 'quiet' } as Parameters<typeof run>[0]);
  const ts = result.benchmarks[0]?.runs[0]?.stats?.avg;
  if (ts === undefined) throw new Error('mitata returned no result');
  console.log(`TS run loop: ${ts.toFixed(0)} ns/exit = ${(1e9 / ts).toFixed(0)} exits/s`);
  console.log(`C  run loop: ${c.toFixed(0)} ns/exit = ${(1e9 / c).toFixed(0)} exits/s (same guest, same KVM)`);
  console.log(`ratio TS/C: ${(ts / c).toFixed(2)}x the time per exit`);
  core.close();
} finally {
  vm.close();
  kvm.close();
  region.close();
  rmSync(dir, { recursive: true, force: true });
}
