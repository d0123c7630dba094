/** Small hand-made images for the format tests (no host needed). */
import { type ImageToWrite, MemoryImage, type VcpuState } from '../../src/formats/stream/index.ts';

export function simVcpu(vcpu: number, round = 7): VcpuState {
  return {
    vcpu,
    parked: false,
    devices: { reportLatch: 5, haltPeriodUs: 300, deviceLast: [1, 2, 3, 0xffff_ffff] },
    cpu: {
      kind: 'sim',
      sim: {
        started: true,
        phase: 1,
        round,
        step: 3,
        x: 0x1234_5678,
        halts: round,
        ioOps: 40,
        reports: 2 * round,
        errors: 0,
        checksum: 0xdead_beef,
        inValue: 0x5a5a_0521,
        spinState: 1,
        steps: 1_000_000,
      },
    },
  };
}

/** An image of `memoryMiB` MiB with a few non-zero pages (one chunk entirely full when big enough). */
export function sampleImage(options: { memoryMiB?: number; vcpus?: number; full?: boolean } = {}): ImageToWrite {
  const memoryMiB = options.memoryMiB ?? 2;
  const memory = new MemoryImage(memoryMiB << 20);
  for (const page of [0, 1, 16, 255, 256, 300]) {
    if (page * 4096 >= memory.size) continue;
    memory.setPage(page, new Uint8Array(4096).fill((page % 251) + 1));
  }
  if (options.full) for (let p = 0; p < 256; p++) memory.setPage(p, new Uint8Array(4096).fill(p + 1));
  const vcpus = options.vcpus ?? 2;
  return {
    options: { migration: false, paused: false },
    domain: { name: 'sample', vcpus, memoryMiB, workload: 'mixed', program: 'mixed', rounds: 0, cpu: 'sim' },
    vcpus: Array.from({ length: vcpus }, (_, i) => simVcpu(i)),
    memory,
    stats: { version: 6, data: new Uint8Array([1, 2, 3]) },
  };
}

/** The memory of an image as [gpa, bytes] of its non-zero pages. */
export function pagesOf(memory: { size: number; read(o: number, l: number): Uint8Array }): Array<[number, number[]]> {
  const out: Array<[number, number[]]> = [];
  for (let gpa = 0; gpa < memory.size; gpa += 4096) {
    const page = memory.read(gpa, 4096);
    if (page.some((b) => b !== 0)) out.push([gpa, [...page.subarray(0, 8)]]);
  }
  return out;
}
