/**
 * The consumer side: reads a live directory without ever writing to it or making the host wait.
 *
 * open() copies the header out of the region and validates it (FormatError on anything that would
 * make an address wrong). entry() copies one entry under its sequence word (bounded retry, then
 * reported torn) and decodes the copy only — no double fetch. Fields past the producer's
 * entry_size are absent (undefined), not zero.
 *
 * Reuse detection: remember (domid, unique id, generation); a later read with a different unique
 * id or generation is another domain on the same domid.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { ClosedError, UsageError, type Violation } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_READ_RETRIES,
  ReadBudget,
  seqReadInto,
  unstableRegionError,
} from '../../shm/seqlock.ts';
import { type DirectoryLayout, entryOffset, readLayout } from './layout.ts';
import { type DirectoryModel, directoryModel, type EntryField, FORMAT } from './model.ts';
import { type DirectoryState, stateName } from './states.ts';

export interface DirectoryEntry {
  domid: number;
  state: DirectoryState;
  /** The raw state value (meaningful when state is 'unknown'). */
  stateValue: number;
  uniqueId: bigint;
  generation: number;
  /** Raw flags word; undefined when the producer's entries are too short to hold it. */
  flags?: number;
  /** The `stats` flag: a stats-table region is published for the domain. */
  stats: boolean;
  nrVcpus?: number;
  /** Even sequence value of the copy (the last value seen when torn). */
  seq: number;
  /** The entry never settled within the retry bound: its other fields are not trustworthy. */
  torn: boolean;
}

export interface DirectoryReaderOptions {
  /** Bound on the retries of one entry read (default DEFAULT_MAX_RETRIES). */
  maxRetries?: number;
  /**
   * Bound on the retries of one whole read of many entries — list(), or a caller's scan sharing
   * readBudget() — (default DEFAULT_READ_RETRIES); past it the read throws a FormatError with
   * rule 'unstable'.
   */
  maxReadRetries?: number;
}

export class DomainDirectoryReader {
  readonly model: DirectoryModel;
  readonly layout: DirectoryLayout;
  /** Layout problems that do not prevent reading (e.g. missing owner words). */
  readonly warnings: readonly Violation[];
  /** Entries this reader reads: nr_entries, capped at what its revision knows. */
  readonly entries: number;
  readonly #maxRetries: number;
  readonly #maxReadRetries: number;
  readonly #regionName: string;
  /** Bytes of an entry copied: the producer's entry_size, capped at the consumer's. */
  readonly #copyLength: number;
  readonly #scratch: Uint8Array;
  readonly #scratchView: DataView;
  #views: { words: Uint32Array; bytes: Uint8Array } | undefined;

  private constructor(region: Region, model: DirectoryModel, options: DirectoryReaderOptions) {
    const { layout, violations } = readLayout(region.bytes, model);
    this.model = model;
    this.layout = layout;
    this.warnings = violations;
    this.entries = Math.min(layout.nrEntries, model.maxEntries);
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#maxReadRetries = options.maxReadRetries ?? DEFAULT_READ_RETRIES;
    this.#regionName = region.name;
    this.#copyLength = Math.min(layout.entrySize, model.entrySize);
    this.#scratch = new Uint8Array(model.entrySize);
    this.#scratchView = new DataView(this.#scratch.buffer);
    this.#views = { words: region.words, bytes: region.bytes };
    region.onClose(() => {
      this.#views = undefined;
    });
  }

  /** Reads and validates the producer's header; throws FormatError if addresses cannot be trusted. */
  static open(region: Region, abi: ResolvedAbi, options: DirectoryReaderOptions = {}): DomainDirectoryReader {
    return new DomainDirectoryReader(region, directoryModel(abi), options);
  }

  #live(): { words: Uint32Array; bytes: Uint8Array } {
    const views = this.#views;
    if (!views) throw new ClosedError('region');
    return views;
  }

  /** The owning host process. */
  get owner(): { pid: number; startTime: bigint } {
    return { pid: this.layout.ownerPid, startTime: this.layout.ownerStartTime };
  }

  /** The `changes` word: unchanged since a previous scan means no entry changed since. */
  changes(): number {
    return Atomics.load(this.#live().words, this.model.header.changes.offset / 4);
  }

  /** A retry budget for one read of many entries (pass it to each entry() of the scan). */
  readBudget(): ReadBudget {
    return new ReadBudget(this.#maxReadRetries);
  }

  /**
   * The entry of `domid` (0 ≤ domid < entries), copied consistently. With `budget` (a scan's,
   * from readBudget()), throws FormatError 'unstable' once the scan's retries are spent.
   */
  entry(domid: number, budget?: ReadBudget): DirectoryEntry {
    return this.#read(domid, budget);
  }

  /** The entry and a private copy of the bytes it was decoded from (the producer's entry_size, capped). */
  entryWithBytes(domid: number, budget?: ReadBudget): { entry: DirectoryEntry; bytes: Uint8Array } {
    const entry = this.#read(domid, budget);
    return { entry, bytes: this.#scratch.slice(0, this.#copyLength) };
  }

  #read(domid: number, budget: ReadBudget | undefined): DirectoryEntry {
    if (!Number.isInteger(domid) || domid < 0 || domid >= this.entries) {
      throw new UsageError(`domid ${domid} is outside 0..${this.entries - 1}`);
    }
    const { words, bytes } = this.#live();
    const at = entryOffset(this.layout, domid);
    const copy = this.#scratch;
    copy.fill(0);
    const r = seqReadInto(
      words,
      (at + this.model.entry.seq.offset) / 4,
      bytes,
      at,
      this.#copyLength,
      copy,
      0,
      this.#maxRetries,
      budget,
    );
    if (r.status === 'unstable' && budget) {
      throw unstableRegionError(FORMAT, `entry[${domid}].seq`, `directory ${this.#regionName}`, budget);
    }
    return this.#decode(domid, r.seq, r.status === 'torn');
  }

  #has(field: EntryField): boolean {
    const p = this.model.entry[field];
    return p.offset + p.size <= this.#copyLength;
  }

  #decode(domid: number, seq: number, torn: boolean): DirectoryEntry {
    const v = this.#scratchView;
    const e = this.model.entry;
    const value = v.getUint32(e.state.offset, true);
    const flags = this.#has('flags') ? v.getUint32(e.flags.offset, true) : undefined;
    return {
      domid,
      state: stateName(this.model, value),
      stateValue: value,
      uniqueId: v.getBigUint64(e.unique_id.offset, true),
      generation: v.getUint32(e.generation.offset, true),
      ...(flags === undefined ? {} : { flags }),
      stats: flags !== undefined && ((flags >>> this.model.statsFlagBit) & 1) === 1,
      ...(this.#has('nr_vcpus') ? { nrVcpus: v.getUint32(e.nr_vcpus.offset, true) } : {}),
      seq,
      torn,
    };
  }

  /** Every used entry (state other than none, or torn), by domid; destroyed ones included. */
  list(): DirectoryEntry[] {
    const out: DirectoryEntry[] = [];
    const budget = this.readBudget();
    for (let domid = 1; domid < this.entries; domid++) {
      const entry = this.entry(domid, budget);
      if (entry.state !== 'none' || entry.torn) out.push(entry);
    }
    return out;
  }
}
