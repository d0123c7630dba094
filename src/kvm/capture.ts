/**
 * `hvkit kvm capture`: creates a throwaway VM, runs the capture guest on every vCPU so the
 * counters move, and writes the VM's and each vCPU's binary stats file byte for byte.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { bufferSource, readLayout } from '../formats/kvm-stats/index.ts';
import { writeFileAtomically } from '../os/replace-file.ts';
import { buildCaptureGuest, CAPTURE_GUEST_DEFAULT_WRITES, loadCaptureGuest, runCaptureGuest } from './capture-guest.ts';
import { readStatsFile } from './stats-file.ts';
import { DEFAULT_KVM_PATH, KvmSystem } from './system.ts';
import type { Vm } from './vm.ts';

export const DEFAULT_CAPTURE_VCPUS = 2;
/** Upper bound for --vcpus: enough for any test of the format, small enough to stay a quick run. */
export const MAX_CAPTURE_VCPUS = 64;

export interface CaptureOptions {
  /** Directory to write into; created if missing. Only the files listed in the result are written. */
  outDir: string;
  /** Number of vCPUs (1..64, default 2). */
  vcpus?: number;
  /** OUT instructions each vCPU's guest executes before halting (0..255, default 8). */
  writes?: number;
  /** Defaults to /dev/kvm. */
  kvmPath?: string;
}

export interface CapturedFile {
  kind: 'vm' | 'vcpu';
  /** vCPU index, for kind 'vcpu'. */
  vcpu?: number;
  /** Absolute path of the written file: vm.kvmstats or vcpu-N.kvmstats. */
  path: string;
  /** File size in bytes (header through the end of the data block). */
  bytes: number;
  /** The stats id string from the file, e.g. "kvm-1234" or "kvm-1234/vcpu-0". */
  id: string;
  /** Number of stats descriptors. */
  stats: number;
}

export interface CaptureResult {
  outDir: string;
  /** The VM file first, then vCPUs in index order. */
  files: CapturedFile[];
  /** What the guest did on each vCPU before the capture (exits seen by userspace). */
  runs: Array<{ vcpu: number; writes: number; exits: number; ioExits: number; haltExits: number }>;
}

function checkCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}

/** Refuses to write bytes our own reader cannot parse; returns what the summary needs. */
function describeStatsFile(bytes: Uint8Array): { id: string; stats: number } {
  const layout = readLayout(bufferSource(bytes));
  return { id: layout.id, stats: layout.descriptors.length };
}

/**
 * Writes the stats files of an existing VM — vm.kvmstats and vcpu-N.kvmstats for every vCPU — into
 * `outDir` (created if missing). Call it while no vCPU runs, so the files form one snapshot.
 */
export function writeStatsFiles(vm: Vm, outDir: string): CapturedFile[] {
  const dir = resolve(outDir);
  const sources = [
    { kind: 'vm' as const, vcpu: undefined, name: 'vm.kvmstats', fd: vm.statsFd },
    ...vm.vcpus.map((v) => ({ kind: 'vcpu' as const, vcpu: v.id, name: `vcpu-${v.id}.kvmstats`, fd: v.statsFd })),
  ];
  // Read and parse everything before writing anything, so a bad file leaves outDir untouched.
  const captured = sources.map((s) => {
    const bytes = readStatsFile(s.fd);
    return { ...s, bytes, ...describeStatsFile(bytes) };
  });
  mkdirSync(dir, { recursive: true });
  return captured.map((c): CapturedFile => {
    const path = join(dir, c.name);
    // Replaces only a regular file, in one step: a symlink or FIFO planted in outDir is refused.
    writeFileAtomically(path, [c.bytes], { force: true, mode: 0o644 });
    const file: CapturedFile = { kind: c.kind, path, bytes: c.bytes.length, id: c.id, stats: c.stats };
    if (c.vcpu !== undefined) file.vcpu = c.vcpu;
    return file;
  });
}

/** Creates a throwaway VM with N vCPUs, runs the capture guest on each, writes its stats files, closes it. */
export function captureKvmStats(options: CaptureOptions): CaptureResult {
  const vcpuCount = checkCount('vcpus', options.vcpus ?? DEFAULT_CAPTURE_VCPUS, 1, MAX_CAPTURE_VCPUS);
  const writes = checkCount('writes', options.writes ?? CAPTURE_GUEST_DEFAULT_WRITES, 0, 255);
  const outDir = resolve(options.outDir);
  const image = buildCaptureGuest(); // before touching KVM: a missing toolchain fails fast

  const kvm = KvmSystem.open(options.kvmPath ?? DEFAULT_KVM_PATH);
  try {
    const vm = kvm.createVm();
    try {
      loadCaptureGuest(vm, image);
      const runs: CaptureResult['runs'] = [];
      for (let i = 0; i < vcpuCount; i++) {
        const r = runCaptureGuest(vm.createVcpu(i), writes);
        runs.push({ vcpu: i, writes, exits: r.exits, ioExits: r.ioExits, haltExits: r.haltExits });
      }
      // Every vCPU has halted and none runs again.
      return { outDir, files: writeStatsFiles(vm, outDir), runs };
    } finally {
      vm.close();
    }
  } finally {
    kvm.close();
  }
}

/** Plain-text summary for the CLI: one line per file written. */
export function formatCaptureResult(result: CaptureResult): string {
  const lines = result.files.map((f) => `${f.path}  ${f.bytes} bytes  ${f.stats} stats  id ${f.id}`);
  const exits = result.runs.map((r) => `vcpu-${r.vcpu}: ${r.exits} exits (${r.ioExits} io, ${r.haltExits} hlt)`);
  return [
    `captured ${result.files.length} KVM stats files into ${result.outDir}`,
    ...lines,
    `guest runs: ${exits.join('; ')}`,
  ].join('\n');
}
