/**
 * Reading a live vCPU stats fd: pread of the data block + decode by hvkit's TypeScript reader vs
 * the independent C reader (test/c/kvm_stats_reader.c --bench) on the same fd in the same run.
 * The TS reader is measured over both of its live sources (the format's fdSource, which uses
 * fs.readSync, and src/kvm's statsFdSource, which calls pread through koffi), next to a bare
 * fs.readSync of the data block — the floor for any reader built on Node's fs. Target: TS ≤ 2× C.
 */
import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { fdSource, KvmStatsReader } from '../src/formats/kvm-stats/index.ts';
import { loadCaptureGuest, runCaptureGuest } from '../src/kvm/capture-guest.ts';
import { statsFdSource } from '../src/kvm/stats-source.ts';
import { KvmSystem, kvmUnavailableReason } from '../src/kvm/system.ts';
import { compileCReader } from '../test/kvm/helpers.ts';

const ITERATIONS = 200_000;

const why = kvmUnavailableReason();
if (why) {
  console.log(`skipped: KVM not usable here (${why})`);
  process.exit(0);
}

/** ns per call of `fn` over `n` calls, after a warm-up, timed with one clock read around the loop like the C side. */
function loopNs(fn: () => void, n: number): number {
  for (let i = 0; i < 20_000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

const kvm = KvmSystem.open();
const vm = kvm.createVm();
const c = compileCReader();
try {
  loadCaptureGuest(vm);
  const vcpu = vm.createVcpu();
  runCaptureGuest(vcpu, 8); // real, non-zero counters; the vCPU stays halted while we measure
  const fd = vcpu.statsFd;
  const viaFs = KvmStatsReader.open(fdSource(fd));
  const viaKoffi = KvmStatsReader.open(statsFdSource(fd));
  const { layout } = viaFs;
  const into = new BigUint64Array(viaFs.dataWords);
  const raw = Buffer.alloc(layout.dataSize);
  console.log(`${layout.id}: ${layout.descriptors.length} stats, data block ${layout.dataSize} bytes`);

  const readFs = () => do_not_optimize(viaFs.readData(into));
  const readKoffi = () => do_not_optimize(viaKoffi.readData(into));

  const cRun = spawnSync(c.path, ['--bench', String(ITERATIONS)], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    encoding: 'utf8',
  });
  const m = /ns_per_iter=([\d.]+)/.exec(cRun.stdout);
  if (cRun.status !== 0 || !m) throw new Error(`C reader --bench failed: ${cRun.stderr || cRun.stdout}`);
  const cNs = Number(m[1]);
  const fsLoop = loopNs(readFs, ITERATIONS);
  const koffiLoop = loopNs(readKoffi, ITERATIONS);

  summary(() => {
    bench('TS reader, statsFdSource (koffi pread): data block + decode', readKoffi).baseline(true);
    bench('TS reader, fdSource (fs.readSync): data block + decode', readFs);
    bench('TS reader: data block + decode to a name→value record', () => {
      do_not_optimize(viaKoffi.toRecord(viaKoffi.readData()));
    });
    bench('floor: bare fs.readSync of the data block', () => {
      do_not_optimize(readSync(fd, raw, 0, raw.length, layout.header.dataOffset));
    });
  });
  const { benchmarks } = await run();
  const avgOf = (prefix: string) => benchmarks.find((b) => b.alias.startsWith(prefix))?.runs[0]?.stats?.avg;

  const ratio = (ns: number | undefined, base: number) => (ns === undefined ? 'n/a' : `${(ns / base).toFixed(2)}x`);
  console.log(`\nC reader --bench ${ITERATIONS} on the same fd: ${cNs.toFixed(1)} ns/iter`);
  console.log(
    `same ${ITERATIONS}-iteration loop in TS: koffi pread ${koffiLoop.toFixed(1)} ns/iter, fs.readSync ${fsLoop.toFixed(1)} ns/iter`,
  );
  console.log(
    `ratio TS/C, koffi pread source: ${ratio(koffiLoop, cNs)} (same loop), ${ratio(avgOf('TS reader, statsFdSource'), cNs)} (mitata avg)   target <= 2x`,
  );
  console.log(
    `ratio TS/C, fs.readSync source: ${ratio(fsLoop, cNs)} (same loop), ${ratio(avgOf('TS reader, fdSource'), cNs)} (mitata avg)`,
  );
  console.log(
    `ratio fdSource reader / bare fs.readSync: ${ratio(avgOf('TS reader, fdSource'), avgOf('floor') ?? Number.NaN)} (reader cost above the syscall)`,
  );
} finally {
  vm.close();
  kvm.close();
  c.cleanup();
}
