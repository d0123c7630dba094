/**
 * The producer side: the host lays out the directory once and publishes every domain transition
 * into the entry of its domid, under the entry's sequence word, then bumps `changes`.
 *
 * The host is the only writer of every entry, so the writer keeps each sequence value itself
 * (no read-modify-write of shared memory). Readers never slow it down: no locks.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { ClosedError, UsageError } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import { seqStoreBegin, seqStoreEnd } from '../../shm/seqlock.ts';
import { type DirectoryLayout, type DirectoryPlanOptions, entryOffset, planLayout } from './layout.ts';
import { type DirectoryModel, directoryModel, HEADER_FIELDS, type HeaderField } from './model.ts';
import { type DirectoryState, stateValue } from './states.ts';

export interface DirectoryCreateOptions extends DirectoryPlanOptions {
  ownerPid: number;
  /** Clock ticks after boot (/proc/<pid>/stat field 22). */
  ownerStartTime: bigint;
}

export interface EntryUpdate {
  state: Exclude<DirectoryState, 'unknown'>;
  uniqueId: bigint;
  generation: number;
  /** A stats-table region is published for the domain. */
  stats: boolean;
  nrVcpus: number;
}

export class DomainDirectoryWriter {
  readonly model: DirectoryModel;
  #words: Uint32Array | undefined;
  /** Sequence value of each entry (even at rest). */
  readonly #seq: Uint32Array;
  #changes = 0;

  private constructor(
    readonly region: Region,
    model: DirectoryModel,
    readonly layout: DirectoryLayout,
  ) {
    this.model = model;
    this.#words = region.words;
    this.#seq = new Uint32Array(layout.nrEntries);
    region.onClose(() => {
      this.#words = undefined;
    });
  }

  /** The layout (and so the region size) a producer of `abi` would use. */
  static plan(abi: ResolvedAbi, options: DirectoryPlanOptions = {}): DirectoryLayout {
    return planLayout(directoryModel(abi), options);
  }

  /**
   * Lays out the directory in `region` (zeroed first; every entry says "never used") and publishes
   * the header: the magic is stored last, so a reader that sees it sees the whole header.
   */
  static create(region: Region, abi: ResolvedAbi, options: DirectoryCreateOptions): DomainDirectoryWriter {
    if (!region.writable) throw new UsageError(`region ${region.name} is read-only`);
    if (!Number.isInteger(options.ownerPid) || options.ownerPid <= 0 || options.ownerPid > 0xffff_ffff) {
      throw new UsageError(`owner pid out of range: ${options.ownerPid}`);
    }
    if (options.ownerStartTime <= 0n || options.ownerStartTime >= 1n << 64n) {
      throw new UsageError(`owner start time out of range: ${options.ownerStartTime}`);
    }
    const model = directoryModel(abi);
    const layout = {
      ...planLayout(model, options),
      ownerPid: options.ownerPid,
      ownerStartTime: options.ownerStartTime,
    };
    if (layout.regionSize > region.length) {
      throw new UsageError(
        `region ${region.name} has ${region.length} bytes, the directory needs ${layout.regionSize}`,
      );
    }
    const bytes = region.bytes;
    bytes.fill(0, 0, layout.regionSize);
    const view = new DataView(bytes.buffer, bytes.byteOffset, layout.regionSize);
    const values: Record<HeaderField, number | bigint> = {
      magic: 0,
      revision: layout.revision,
      header_size: layout.headerSize,
      entries_offs: layout.entriesOffs,
      entry_size: layout.entrySize,
      entry_stride: layout.entryStride,
      nr_entries: layout.nrEntries,
      page_size: layout.pageSize,
      region_size: layout.regionSize,
      owner_start_time: layout.ownerStartTime,
      owner_pid: layout.ownerPid,
      changes: 0,
    };
    for (const name of HEADER_FIELDS) {
      const { offset, size } = model.header[name];
      if (size === 4) view.setUint32(offset, Number(values[name]), true);
      else view.setBigUint64(offset, BigInt(values[name]), true);
    }
    Atomics.store(region.words, model.header.magic.offset / 4, model.magic);
    return new DomainDirectoryWriter(region, model, layout);
  }

  /** Publishes the entry of `domid` (1..nr_entries-1). */
  publish(domid: number, update: EntryUpdate): void {
    const words = this.#words;
    if (!words) throw new ClosedError(`region ${this.region.name}`);
    if (!Number.isInteger(domid) || domid < 1 || domid >= this.layout.nrEntries) {
      throw new UsageError(`domid ${domid} is outside 1..${this.layout.nrEntries - 1}`);
    }
    if (update.uniqueId <= 0n || update.uniqueId >= 1n << 64n) throw new UsageError('unique ids are non-zero u64');
    if (!Number.isInteger(update.generation) || update.generation < 1 || update.generation > 0xffff_ffff) {
      throw new UsageError(`generation out of range: ${update.generation}`);
    }
    if (!Number.isInteger(update.nrVcpus) || update.nrVcpus < 0 || update.nrVcpus > 0xffff_ffff) {
      throw new UsageError(`nr_vcpus out of range: ${update.nrVcpus}`);
    }
    // Everything that can throw happens before the sequence word goes odd: a throw between
    // begin and end would leave the entry odd (torn to every reader) for good.
    const state = stateValue(this.model, update.state);
    const uniqueLow = Number(update.uniqueId & 0xffff_ffffn);
    const uniqueHigh = Number(update.uniqueId >> 32n);
    const flags = update.stats ? 1 << this.model.statsFlagBit : 0;
    const e = this.model.entry;
    const base = entryOffset(this.layout, domid) / 4;
    const seqIndex = base + e.seq.offset / 4;
    seqStoreBegin(words, seqIndex, this.#seq[domid]! | 1);
    words[base + e.state.offset / 4] = state;
    const uid = base + e.unique_id.offset / 4;
    words[uid] = uniqueLow;
    words[uid + 1] = uniqueHigh;
    words[base + e.generation.offset / 4] = update.generation;
    words[base + e.flags.offset / 4] = flags;
    words[base + e.nr_vcpus.offset / 4] = update.nrVcpus;
    this.#seq[domid] = seqStoreEnd(words, seqIndex, (this.#seq[domid]! | 1) + 1);
    this.#changes = (this.#changes + 1) >>> 0;
    Atomics.store(words, this.model.header.changes.offset / 4, this.#changes);
  }
}
