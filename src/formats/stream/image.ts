/**
 * What a stream carries, as plain data: the domain, each vCPU's state, guest memory and the
 * optional pool and stats snapshots. Writers take an ImageToWrite (memory read chunk by chunk from
 * the live guest); the reader produces a VerifiedImage only once the whole stream checked out.
 */

export type CpuKind = 'kvm' | 'sim';

export interface StreamDomain {
  /** At most 15 bytes of UTF-8. */
  name: string;
  vcpus: number;
  memoryMiB: number;
  /** A workload name of the stream ABI's `workload` enum (compute, io, mixed). */
  workload: string;
  /** A name of the `guest_program` enum. */
  program: string;
  rounds: number;
  cpu: CpuKind;
}

/** A simulated guest's position and counters (schema struct sim_cpu). */
export interface SimCpuState {
  started: boolean;
  phase: number;
  round: number;
  step: number;
  x: number;
  halts: number;
  ioOps: number;
  reports: number;
  errors: number;
  checksum: number;
  inValue: number;
  spinState: number;
  steps: number;
}

export interface DeviceState {
  reportLatch: number;
  haltPeriodUs: number;
  /** Last value written to each of the 4 device ports. */
  deviceLast: number[];
}

export type CpuState = { kind: 'kvm'; regs: bigint[]; sregs: Uint8Array } | { kind: 'sim'; sim: SimCpuState };

/** One vCPU, captured while paused with its port I/O completed. */
export interface VcpuState {
  vcpu: number;
  /** The guest finished or crashed; the vCPU stays out of the guest. */
  parked: boolean;
  devices: DeviceState;
  cpu: CpuState;
}

export interface StreamOptions {
  /** Written by a migration rather than a save. */
  migration: boolean;
  /** The domain was paused by its owner when saved: restore leaves it paused. */
  paused: boolean;
}

/** Guest RAM as a writer reads it (offsets are guest physical addresses). */
export interface MemorySource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface Blob {
  /** Pools: the pool service's snapshot format version; stats: the stats-table revision. */
  version: number;
  data: Uint8Array;
}

export interface ImageToWrite {
  options: StreamOptions;
  domain: StreamDomain;
  vcpus: VcpuState[];
  memory: MemorySource;
  pools?: Blob;
  stats?: Blob;
}

export const PAGE_BYTES = 4096;
export const CHUNK_BYTES = 1 << 20;

/** Guest memory of a verified image: only its non-zero pages are held. */
export class MemoryImage implements MemorySource {
  readonly #pages = new Map<number, Uint8Array>();

  constructor(readonly size: number) {}

  /** Page `index` (4 KiB) holds `data` (exactly PAGE_BYTES). */
  setPage(index: number, data: Uint8Array): void {
    this.#pages.set(index, data);
  }

  get presentPages(): number {
    return this.#pages.size;
  }

  /**
   * The non-zero memory in address order, as runs: consecutive pages whose bytes also lie next to
   * each other in one buffer (pages of one record) come as one view, so a 256 MiB image is applied
   * in a few hundred copies rather than 65536.
   */
  *pages(): Generator<[gpa: number, data: Uint8Array]> {
    let run: { gpa: number; data: Uint8Array } | undefined;
    for (const index of [...this.#pages.keys()].sort((a, b) => a - b)) {
      const data = this.#pages.get(index)!;
      const gpa = index * PAGE_BYTES;
      if (
        run &&
        run.gpa + run.data.length === gpa &&
        run.data.buffer === data.buffer &&
        run.data.byteOffset + run.data.length === data.byteOffset
      ) {
        run.data = new Uint8Array(data.buffer, run.data.byteOffset, run.data.length + data.length);
        continue;
      }
      if (run) yield [run.gpa, run.data];
      run = { gpa, data };
    }
    if (run) yield [run.gpa, run.data];
  }

  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let page = Math.floor(offset / PAGE_BYTES); page * PAGE_BYTES < offset + length; page++) {
      const data = this.#pages.get(page);
      if (!data) continue;
      const from = Math.max(offset, page * PAGE_BYTES);
      const to = Math.min(offset + length, (page + 1) * PAGE_BYTES);
      out.set(data.subarray(from - page * PAGE_BYTES, to - page * PAGE_BYTES), from - offset);
    }
    return out;
  }
}

/** Skipped optional records, one entry per type in the order first seen. */
export type SkippedRecords = ReadonlyArray<{ readonly type: number; readonly count: number }>;

export interface VerifiedImage {
  /** Stream version read (the writer's revision). */
  version: number;
  /** Set when the stream was of the previous version and was upgraded in memory. */
  upgradedFrom?: number;
  options: StreamOptions;
  domain: StreamDomain;
  /** Indexed by vCPU. */
  vcpus: VcpuState[];
  memory: MemoryImage;
  pools?: Blob;
  stats?: Blob;
  /** Unknown optional records that were skipped (checksums verified): how many of each type. */
  skipped: SkippedRecords;
}
