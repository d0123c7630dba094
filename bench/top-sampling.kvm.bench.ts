/**
 * The cost of sampling one VM with its vCPUs the way `hvkit top` does, against the other ways to
 * get the same numbers, in the same run:
 *
 *  pread      the VM and vCPU stats fds of another process, duplicated with pidfd_getfd, one pread
 *             of each data block (what AttachSession does per VM) — every stat of the VM and of
 *             each vCPU;
 *  top        a whole AttachSession.sample() for that VM (pread + liveness poll + /dev/shm readdir
 *             + StatSample objects, reused while unchanged), with its /proc rescan every 10
 *             samples, and the same between rescans;
 *  debugfs    /sys/kernel/debug/kvm/<PID>-<FD>/: open + read + close of every stat file (the files
 *             cannot be pread); VM-wide totals only, and under kernel lockdown only the read-only
 *             (instant) files open at all — so the ratio is also given per stat read;
 *  query-stats  QEMU's QMP `query-stats` (targets vm and vcpu) for a QEMU VM with the same number
 *             of vCPUs, over its unix socket, when qemu-system-x86 is installed (.ci/run installs it).
 *
 * The attached VM is a separate process (test/attach/vm-child.ts) whose vCPUs have run the capture
 * guest and are halted.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { DebugfsVm, debugfsUnavailableReason } from '../src/attach/debugfs.ts';
import { KvmStatsHandle } from '../src/attach/kvm-stats-handle.ts';
import { exitedProcesses, ProcessHandle } from '../src/attach/pidfd.ts';
import { AttachSession } from '../src/attach/session.ts';
import { kvmUnavailableReason } from '../src/kvm/system.ts';
import { listShmNames } from '../src/shm/shm-file.ts';
import { QEMU_BINARY, qemuInstalled, startQemu } from '../test/support/qemu.ts';

const VCPUS = 2;
const QMP_ROUNDS = 2_000;

const why = kvmUnavailableReason();
if (why) {
  console.log(`skipped: KVM not usable here (${why})`);
  process.exit(0);
}

interface ChildInfo {
  pid: number;
  startTime: string;
  vms: { vmFd: number; vmStatsFd: number; vcpuStatsFds: number[] }[];
}

async function startVmm(): Promise<{ child: ChildProcess; info: ChildInfo }> {
  const script = new URL('../test/attach/vm-child.ts', import.meta.url).pathname;
  const config = { vms: 1, vcpus: VCPUS, statsFds: true, tables: false };
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the VM child exited before reporting');
  return { child, info: JSON.parse(first.value) as ChildInfo };
}

/** Mounts debugfs if needed and possible; returns whether we mounted it, or why it cannot be used. */
function prepareDebugfs(): { mounted: boolean } | string {
  if (debugfsUnavailableReason() === undefined) return { mounted: false };
  if (process.getuid?.() !== 0) return 'debugfs is not mounted and mounting it needs root';
  const r = spawnSync('mount', ['-t', 'debugfs', 'none', '/sys/kernel/debug'], { encoding: 'utf8' });
  if (r.status !== 0) return `debugfs cannot be mounted: ${r.stderr.trim()}`;
  const still = debugfsUnavailableReason();
  if (still) {
    spawnSync('umount', ['/sys/kernel/debug']);
    return still;
  }
  return { mounted: true };
}

const ns = (b: { runs: { stats?: { avg: number } }[] } | undefined) => b?.runs[0]?.stats?.avg;
const fmt = (v: number | undefined) =>
  v === undefined ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : `${(v / 1e3).toFixed(2)} µs`;
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(1)}x`;

const { child, info } = await startVmm();
const vmInfo = info.vms[0]!;
const proc = ProcessHandle.open(info.pid, BigInt(info.startTime));
if (!(proc instanceof ProcessHandle)) throw new Error(`pidfd_open: ${proc.code}`);
const handles = [vmInfo.vmStatsFd, ...vmInfo.vcpuStatsFds].map((fd) => {
  const a = KvmStatsHandle.attach(proc, fd);
  if (!a.ok) throw new Error(`attach fd ${fd}: ${a.text}`);
  return a.handle;
});
const kvmStats = handles.reduce((n, h) => n + h.reader.layout.descriptors.length, 0);
const source = new AttachSession({ pids: [info.pid], debugfs: false });
source.sample();
// The same session without its periodic /proc rescan (every 10 samples by default): what one
// sample costs between rescans, so the rescan's share of the average can be told apart.
const steady = new AttachSession({ pids: [info.pid], debugfs: false, rescanEvery: 1_000_000_000 });
steady.sample();

const debugfs = prepareDebugfs();
let debugfsVm: DebugfsVm | undefined;
let debugfsNote = '';
if (typeof debugfs === 'string') debugfsNote = debugfs;
else {
  const d = DebugfsVm.open(info.pid, vmInfo.vmFd);
  if (typeof d === 'string') debugfsNote = d;
  else {
    debugfsVm = d;
    const refused = d.unreadable.filter((u) => u.code.startsWith('E'));
    debugfsNote = `${d.stats.length} stat files readable, ${refused.length} refused (${refused[0]?.code ?? '-'}), ${d.unreadable.length - refused.length} histograms skipped`;
  }
}

const qemu = await startQemuPeer();

console.log(
  `VM with ${VCPUS} vCPUs in pid ${info.pid}: ${handles.length} stats fds, ${kvmStats} stats (VM + every vCPU)`,
);
console.log(`debugfs: ${debugfsNote}`);
console.log(`query-stats: ${qemu.note}`);

let qmpNs: number | undefined;
try {
  summary(() => {
    bench('pread of the VM and vCPU data blocks (attached fds)', () => {
      for (const h of handles) do_not_optimize(h.read());
    }).baseline(true);
    bench('AttachSession.sample() of that VM', () => do_not_optimize(source.sample()));
    bench('AttachSession.sample() between /proc rescans', () => do_not_optimize(steady.sample()));
    // The session's fixed costs per sample, whatever the number of VMs: one readdir of /dev/shm
    // and one poll(2) of the pidfds.
    bench('fixed: readdir of /dev/shm', () => do_not_optimize(listShmNames()));
    bench('fixed: poll of the pidfd', () => do_not_optimize(exitedProcesses([proc])));
    if (debugfsVm) {
      const into: (bigint | undefined)[] = [];
      bench('debugfs: open/read/close every readable stat file', () => do_not_optimize(debugfsVm!.read(into)));
    }
  });
  const { benchmarks } = await run();
  if (qemu.qmp) {
    for (let i = 0; i < 50; i++) await qemu.qmp.queryStats();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < QMP_ROUNDS; i++) await qemu.qmp.queryStats();
    qmpNs = Number(process.hrtime.bigint() - t0) / QMP_ROUNDS;
  }
  const preadNs = ns(benchmarks.find((b) => b.alias.startsWith('pread')));
  const topNs = ns(benchmarks.find((b) => b.alias === 'AttachSession.sample() of that VM'));
  const steadyNs = ns(benchmarks.find((b) => b.alias === 'AttachSession.sample() between /proc rescans'));
  const readdirNs = ns(benchmarks.find((b) => b.alias === 'fixed: readdir of /dev/shm'));
  const pollNs = ns(benchmarks.find((b) => b.alias === 'fixed: poll of the pidfd'));
  const perVmNs =
    steadyNs !== undefined && readdirNs !== undefined && pollNs !== undefined
      ? steadyNs - readdirNs - pollNs
      : undefined;
  const debugfsNs = ns(benchmarks.find((b) => b.alias.startsWith('debugfs')));
  console.log('\nper sample of one VM with its vCPUs:');
  console.log(
    `  pread (top's reads)        ${fmt(preadNs)}  ${kvmStats} stats  ${fmt(preadNs && preadNs / kvmStats)}/stat`,
  );
  console.log(`  AttachSession.sample()     ${fmt(topNs)}  ${ratio(topNs, preadNs)} the preads`);
  console.log(
    `    between /proc rescans    ${fmt(steadyNs)}  ${ratio(steadyNs, preadNs)} the preads (the rescan every 10 samples: ${fmt(topNs !== undefined && steadyNs !== undefined ? topNs - steadyNs : undefined)} per sample on average)`,
  );
  console.log(
    `    of which fixed per sample: readdir /dev/shm ${fmt(readdirNs)}, poll ${fmt(pollNs)}; per VM: ${fmt(perVmNs)} = ${ratio(perVmNs, preadNs)} the preads`,
  );
  if (debugfsVm && debugfsNs !== undefined) {
    const n = debugfsVm.stats.length;
    console.log(
      `  debugfs                    ${fmt(debugfsNs)}  ${n} stats  ${fmt(debugfsNs / n)}/stat   ratio debugfs/pread: ${ratio(debugfsNs, preadNs)} per sample, ${ratio(debugfsNs / n, preadNs! / kvmStats)} per stat`,
    );
  } else console.log(`  debugfs                    not measured: ${debugfsNote}`);
  if (qmpNs !== undefined) {
    console.log(
      `  QMP query-stats (vm+vcpu)  ${fmt(qmpNs)}  ${qemu.stats} stats  ratio query-stats/pread: ${ratio(qmpNs, preadNs)}, query-stats/top sample: ${ratio(qmpNs, topNs)}, query-stats/per-VM part: ${ratio(qmpNs, perVmNs)}`,
    );
  } else console.log(`  QMP query-stats            not measured: ${qemu.note}`);
} finally {
  source.close();
  steady.close();
  for (const h of handles) h.close();
  proc.close();
  debugfsVm?.close();
  if (typeof debugfs !== 'string' && debugfs.mounted) spawnSync('umount', ['/sys/kernel/debug']);
  qemu.stop();
  child.kill('SIGKILL');
}

interface Qemu {
  note: string;
  stats: number;
  qmp?: { queryStats(): Promise<unknown> };
  stop(): void;
}

/** QEMU with the same number of vCPUs and a QMP socket (KVM, else TCG); never throws. */
async function startQemuPeer(): Promise<Qemu> {
  const none = (note: string): Qemu => ({ note, stats: 0, stop() {} });
  if (!qemuInstalled()) return none(`${QEMU_BINARY} not installed (Debian's qemu-system-x86)`);
  try {
    const vm = await startQemu({ vcpus: VCPUS, memoryMiB: 64, accels: ['kvm', 'tcg'] });
    const probe = (await vm.qmp.call('query-stats', { target: 'vcpu' })) as { return?: { stats: unknown[] }[] };
    const vmStats = (await vm.qmp.call('query-stats', { target: 'vm' })) as { return?: { stats: unknown[] }[] };
    if (!probe.return) {
      vm.stop();
      return none(`QEMU answers query-stats with ${JSON.stringify(probe).slice(0, 120)}`);
    }
    const count = [...probe.return, ...(vmStats.return ?? [])].reduce((n, p) => n + p.stats.length, 0);
    return {
      note: `${vm.version} (-accel ${vm.accel}) with ${VCPUS} vCPUs, ${count} stats per query pair`,
      stats: count,
      qmp: {
        queryStats: async () => {
          await vm.qmp.call('query-stats', { target: 'vm' });
          return vm.qmp.call('query-stats', { target: 'vcpu' });
        },
      },
      stop: () => vm.stop(),
    };
  } catch (err) {
    return none(err instanceof Error ? err.message : String(err));
  }
}
