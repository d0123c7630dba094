/**
 * A synthetic host for benchmarks and tests of the observer side at scale: N hvkit stats tables in
 * /dev/shm named for this process (as a host of this process would publish them), each with M
 * vCPUs, every active group of the domain and of every vCPU (and its arch block) filled with
 * counters and histogram buckets — written from this thread, without vCPU threads, so 1000 VMs ×
 * 4 vCPUs fit on a small machine and only the reader is measured.
 *
 * Cleanup is guaranteed: close() unmaps and unlinks every table; a failure while creating them
 * removes those already made; and an exit handler removes whatever a test or bench that threw
 * before close() left behind.
 */
import { unlinkSync } from 'node:fs';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import { tableName } from '../../src/attach/tables.ts';
import { shippedStatsTableAbi } from '../../src/formats/stats-table/abi.ts';
import type { GroupModel } from '../../src/formats/stats-table/model.ts';
import { type GroupWriter, StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { processStartTime } from '../../src/os/procfs.ts';
import type { Region } from '../../src/shm/region.ts';
import { createShmRegion, shmPath } from '../../src/shm/shm-file.ts';

export interface SyntheticHostOptions {
  vms: number;
  vcpus: number;
  abi?: ResolvedAbi;
  /** domid of the first table (default 1); the others follow. */
  firstDomid?: number;
  /** Unique ids start here (default a value derived from the pid, so two processes never clash). */
  firstUniqueId?: bigint;
  /** 'x86_64' adds the vCPU arch block (default), 'none' leaves it out. */
  arch?: 'none' | 'x86_64';
}

export interface SyntheticVm {
  name: string;
  domid: number;
  uniqueId: bigint;
  writer: StatsTableWriter;
}

/** Names still on disk, for the exit handler (a Set shared by every host of this process). */
const live = new Set<string>();
let exitHookInstalled = false;

function removeLeftovers(): void {
  for (const name of live) {
    try {
      unlinkSync(shmPath(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  live.clear();
}

export class SyntheticHost {
  readonly vms: SyntheticVm[] = [];
  readonly abi: ResolvedAbi;
  readonly #regions: Region[] = [];
  /** Every group writer of every table, in table order (what step() writes). */
  readonly #groups: { writer: GroupWriter; model: GroupModel }[] = [];
  #step = 0;
  #closed = false;

  private constructor(abi: ResolvedAbi) {
    this.abi = abi;
  }

  /** Creates the tables and fills them once (step 1). Throws after removing what it made. */
  static create(options: SyntheticHostOptions): SyntheticHost {
    const { vms, vcpus } = options;
    if (!Number.isInteger(vms) || vms < 0) throw new RangeError(`vms must be a non-negative integer: ${vms}`);
    if (!exitHookInstalled) {
      process.on('exit', removeLeftovers);
      exitHookInstalled = true;
    }
    const abi = options.abi ?? shippedStatsTableAbi();
    const host = new SyntheticHost(abi);
    const start = processStartTime(process.pid);
    if (start === undefined) throw new RangeError('no start time for this process');
    const firstDomid = options.firstDomid ?? 1;
    const firstUnique = options.firstUniqueId ?? (BigInt(process.pid) << 24n) + 1n;
    try {
      const plan = { nrVcpus: vcpus, arch: options.arch ?? 'x86_64' } as const;
      const size = StatsTableWriter.plan(abi, plan).regionSize;
      for (let i = 0; i < vms; i++) {
        const domid = firstDomid + i;
        const uniqueId = firstUnique + BigInt(i);
        const name = tableName(process.pid, start, domid, uniqueId);
        const region = createShmRegion(name, size);
        live.add(name);
        host.#regions.push(region);
        region.onClose(() => live.delete(name));
        const writer = StatsTableWriter.create(region, abi, plan);
        writer.setIdentity({ domid, uniqueId, ownerPid: process.pid, ownerStartTime: start, name: `syn${domid}` });
        host.vms.push({ name, domid, uniqueId, writer });
        host.#collectGroups(writer);
      }
      host.step();
      return host;
    } catch (e) {
      host.close();
      throw e;
    }
  }

  #collectGroups(writer: StatsTableWriter): void {
    const { model, layout } = writer;
    const active = (bits: bigint, g: GroupModel) => ((bits >> BigInt(g.bit)) & 1n) === 1n;
    for (const g of model.dom) {
      if (active(layout.domActive, g)) this.#groups.push({ writer: writer.dom(g.name), model: g });
    }
    for (let v = 0; v < layout.nrVcpus; v++) {
      for (const g of model.vcpu) {
        if (active(layout.vcpuActive, g)) this.#groups.push({ writer: writer.vcpu(v, g.name), model: g });
      }
      if (model.vcpuArch && layout.archVcpuSize > 0) {
        this.#groups.push({ writer: writer.arch(v), model: model.vcpuArch });
      }
    }
  }

  /** Number of stats tables. */
  get size(): number {
    return this.vms.length;
  }

  /**
   * Advances every counter of every table (each under its group's seqlock): at step n, scalar
   * counter c of a group holds n·(c+1), and bucket b of a histogram holds n·(b+1). Returns n.
   */
  step(): number {
    if (this.#closed) throw new RangeError('the synthetic host is closed');
    const n = BigInt(++this.#step);
    for (const { writer, model } of this.#groups) {
      writer.begin();
      model.counters.forEach((c, ci) => {
        const id = writer.counter(c.name);
        if (c.count === 1) writer.set(id, n * BigInt(ci + 1));
        else for (let b = 0; b < c.count; b++) writer.set(id + 2 * b, n * BigInt(b + 1));
      });
      writer.end();
    }
    return this.#step;
  }

  /** Unmaps and unlinks every table; idempotent. */
  close(): void {
    this.#closed = true;
    for (const r of this.#regions.splice(0)) r.close();
  }
}
