/**
 * The producer side: lays out a region for one revision of the ABI, publishes the header and
 * updates groups under their sequence locks.
 *
 * Writers: each group (of each block) has exactly one writer at a time — the sequence protocol
 * has no compare-and-swap, so two writers of one group would corrupt it. Several writers may
 * share a region as long as they write disjoint groups: typically the host creates the table
 * (StatsTableWriter.create) and writes the domain groups and identity, and each vCPU worker
 * (another thread or process) attaches (StatsTableWriter.attach) and writes only its own vCPU
 * block's groups and vCPU identity.
 *
 * Counters are u64 held as two u32 words (lo, hi) so that increments never allocate and never
 * lose bits past 2^53. A counter is addressed by the index of its low word in `region.words`.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { ClosedError, FormatError, InternalError, UsageError } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import { seqStoreBegin, seqStoreEnd } from '../../shm/seqlock.ts';
import {
  type DomainIdentityInput,
  type EncodedWord,
  encodeDomainIdentity,
  encodeVcpuIdentity,
  type VcpuIdentityInput,
} from './identity.ts';
import { blockOffset, layoutExtent, type PlanOptions, planLayout, readLayout, type TableLayout } from './layout.ts';
import { FORMAT, type GroupModel, HEADER_FIELDS, type TableModel, tableModel } from './model.ts';
import { PortCounter } from './port-counter.ts';
import { PORTS_GROUP, portSlots, UNUSED_PORT } from './ports.ts';

const TWO_32 = 0x1_0000_0000;
const EMPTY = new Uint32Array(0);

/** Writes one group of one block. Obtain from StatsTableWriter; valid until the region closes. */
export class GroupWriter {
  #words: Uint32Array;
  readonly seqIndex: number;
  /** Word index of the group's first byte, for the inactive flags. */
  readonly #base: number;
  readonly #inactive: Uint8Array;
  readonly #ids = new Map<string, { id: number; count: number }>();
  /** This handle is the group's only writer, so it keeps the sequence value instead of re-reading it. */
  #seq: number;

  constructor(
    words: Uint32Array,
    readonly model: GroupModel,
    blockStart: number,
  ) {
    this.#words = words;
    this.seqIndex = (blockStart + model.seqOffset) / 4;
    this.#base = (blockStart + model.offset) / 4;
    this.#inactive = new Uint8Array(model.size / 4);
    for (const c of model.counters) this.#ids.set(c.name, { id: (blockStart + c.offset) / 4, count: c.count });
    this.#seq = Atomics.load(words, this.seqIndex) & ~1;
  }

  /** The id of a counter (of bucket 0 for a histogram), for add/set/recordLog2. */
  counter(name: string): number {
    const c = this.#ids.get(name);
    if (!c) throw new UsageError(`group ${this.model.name} has no counter ${name}`);
    return c.id;
  }

  /** Number of u64 elements of a counter (1, or the histogram's bucket count). */
  length(name: string): number {
    return this.#ids.get(name)?.count ?? 0;
  }

  /** The sequence word becomes odd: readers retry until end(). (A plain store on x64: see seqlock.ts.) */
  begin(): void {
    this.#seq = seqStoreBegin(this.#words, this.seqIndex, this.#seq | 1);
  }

  /** The sequence word becomes the next even value: the update is published. */
  end(): void {
    this.#seq = seqStoreEnd(this.#words, this.seqIndex, this.#seq + 1);
  }

  /** counter += n (n a non-negative safe integer); wraps at 2^64. Call between begin() and end(). */
  add(id: number, n = 1): void {
    const w = this.#words;
    const lo = w[id]!;
    // An inactive counter holds all ones and nothing writes it, so the inactive table is only
    // consulted when the low word is all ones: the common path costs one compare, not a lookup.
    if (lo === 0xffff_ffff && this.#inactive[id - this.#base] === 1) return;
    if (n < TWO_32) {
      const sum = lo + n;
      w[id] = sum; // typed-array stores wrap modulo 2^32
      if (sum >= TWO_32) w[id + 1] = w[id + 1]! + 1;
      return;
    }
    const low = lo + (n % TWO_32);
    const carry = Math.floor(n / TWO_32) + (low >= TWO_32 ? 1 : 0);
    w[id] = low; // typed-array stores wrap modulo 2^32
    if (carry !== 0) w[id + 1] = w[id + 1]! + carry;
  }

  /** counter = value (exact for any u64); an inactive counter is left alone. Call between begin() and end(). */
  set(id: number, value: bigint | number): void {
    if (this.#inactive[id - this.#base] === 1) return;
    const v = BigInt.asUintN(64, BigInt(value));
    this.#words[id] = Number(v & 0xffff_ffffn);
    this.#words[id + 1] = Number(v >> 32n);
  }

  /** The current value (the writer's own view). */
  get(id: number): bigint {
    return (BigInt(this.#words[id + 1]!) << 32n) | BigInt(this.#words[id]!);
  }

  /** Counts `value` in a log2 histogram: bucket 0 for 0, bucket i for [2^(i-1), 2^i), last bucket open-ended. */
  recordLog2(id: number, value: number, buckets: number): void {
    const bucket = value < 1 ? 0 : Math.min(buckets - 1, Math.floor(Math.log2(value)) + 1);
    this.add(id + 2 * bucket, 1);
  }

  /** Marks a counter (all elements) as not produced: all ones, left alone by add() and set(). */
  markInactive(name: string): void {
    const c = this.#ids.get(name);
    if (!c) throw new UsageError(`group ${this.model.name} has no counter ${name}`);
    this.begin();
    for (let i = 0; i < 2 * c.count; i++) {
      this.#words[c.id + i] = 0xffff_ffff;
      this.#inactive[c.id + i - this.#base] = 1;
    }
    this.end();
  }

  /** begin(); fn(this); end() — the end runs even if fn throws, so the group never stays odd. */
  update(fn: (g: this) => void): void {
    this.begin();
    try {
      fn(this);
    } finally {
      this.end();
    }
  }

  /** Called when the region closes: the handle no longer touches memory. */
  drop(): void {
    this.#words = EMPTY;
  }
}

export class StatsTableWriter {
  readonly model: TableModel;
  #groups = new Map<string, GroupWriter>();
  #closed = false;

  private constructor(
    readonly region: Region,
    model: TableModel,
    readonly layout: TableLayout,
  ) {
    this.model = model;
    region.onClose(() => {
      this.#closed = true;
      for (const g of this.#groups.values()) g.drop();
      this.#groups.clear();
    });
  }

  /** The layout (and so the region size) a producer of `abi` would use. */
  static plan(abi: ResolvedAbi, options: PlanOptions): TableLayout {
    return planLayout(tableModel(abi), options);
  }

  /**
   * Checks what setIdentity would publish for a table of `abi`, writing nothing: UsageError for a
   * value out of range, a name that does not fit or a word the revision does not have.
   */
  static checkIdentity(abi: ResolvedAbi, identity: DomainIdentityInput): void {
    encodeDomainIdentity(tableModel(abi), identity);
  }

  /**
   * Lays out the table in `region` (zeroed first) and publishes it: the magic is stored last, so
   * a reader that sees it sees the complete header and every vCPU block header.
   */
  static create(region: Region, abi: ResolvedAbi, options: PlanOptions): StatsTableWriter {
    if (!region.writable) throw new UsageError(`region ${region.name} is read-only`);
    const model = tableModel(abi);
    const layout = planLayout(model, options);
    if (layout.regionSize > region.length) {
      throw new UsageError(`region ${region.name} has ${region.length} bytes, the table needs ${layout.regionSize}`);
    }
    const bytes = region.bytes;
    bytes.fill(0, 0, layout.regionSize);
    const view = new DataView(bytes.buffer, bytes.byteOffset, layout.regionSize);
    const values: Record<(typeof HEADER_FIELDS)[number], number | bigint> = {
      magic: 0,
      revision: layout.revision,
      dom_size: layout.domSize,
      vcpu_offs: layout.vcpuOffs,
      vcpu_size: layout.vcpuSize,
      vcpu_stride: layout.vcpuStride,
      nr_vcpus: layout.nrVcpus,
      page_size: layout.pageSize,
      region_size: layout.regionSize,
      dom_active: layout.domActive,
      vcpu_active: layout.vcpuActive,
      arch: layout.arch,
      arch_dom_offs: layout.archDomOffs,
      arch_dom_size: layout.archDomSize,
      arch_vcpu_offs: layout.archVcpuOffs,
      arch_vcpu_size: layout.archVcpuSize,
    };
    for (const name of HEADER_FIELDS) {
      const { offset, size } = model.header[name];
      if (size === 4) view.setUint32(offset, Number(values[name]), true);
      else view.setBigUint64(offset, BigInt(values[name]), true);
    }
    const ports = model.vcpu.find((g) => g.name === PORTS_GROUP);
    const portsActive = ports !== undefined && ((layout.vcpuActive >> BigInt(ports.bit)) & 1n) === 1n;
    for (let i = 0; i < layout.nrVcpus; i++) {
      const base = blockOffset(layout, 'vcpu', i);
      view.setUint32(base + model.vcpuIdOffset, i, true);
      // Every port slot starts unused (all ones), not "port 0".
      if (portsActive)
        for (const slot of portSlots(ports)) view.setBigUint64(base + slot.port.offset, UNUSED_PORT, true);
      view.setUint32(base, model.vcpuMagic, true);
    }
    if (layoutExtent(layout) > layout.regionSize) throw new InternalError('planLayout produced an inconsistent layout');
    Atomics.store(region.words, model.header.magic.offset / 4, model.domMagic);
    return new StatsTableWriter(region, model, layout);
  }

  /**
   * A second writer of a table another writer created (a vCPU worker in another thread or
   * process, over its own mapping of the region). Reads and validates the existing header and
   * zeroes nothing. Refuses (FormatError, rule `producer-mismatch`) a header from another
   * revision or with other block sizes than `abi`, and any layout violation. The caller must
   * write only groups no other writer writes (see the file comment).
   */
  static attach(region: Region, abi: ResolvedAbi): StatsTableWriter {
    if (!region.writable) throw new UsageError(`region ${region.name} is read-only`);
    const model = tableModel(abi);
    const { layout, violations } = readLayout(region.bytes, model);
    const error = violations.find((v) => v.severity === 'error');
    if (error) throw new FormatError(FORMAT, error.field, error.rule, error.message, error.value);
    const mismatch = (field: string, got: number, want: number) => {
      if (got !== want) {
        throw new FormatError(
          FORMAT,
          `dom.${field}`,
          'producer-mismatch',
          `the table was created from another revision or layout (expected ${want})`,
          String(got),
        );
      }
    };
    mismatch('revision', layout.revision, abi.revision);
    mismatch('dom_size', layout.domSize, model.domSize);
    mismatch('vcpu_size', layout.vcpuSize, model.vcpuSize);
    if (layout.archVcpuSize !== 0) mismatch('arch_vcpu_size', layout.archVcpuSize, model.vcpuArch?.size ?? 0);
    const view = new DataView(region.bytes.buffer, region.bytes.byteOffset, region.length);
    for (let i = 0; i < layout.nrVcpus; i++) {
      const base = blockOffset(layout, 'vcpu', i);
      if (view.getUint32(base, true) !== model.vcpuMagic || view.getUint32(base + model.vcpuIdOffset, true) !== i) {
        throw new FormatError(FORMAT, `vcpu[${i}].magic`, 'vcpu-magic', 'not an initialised vCPU block');
      }
    }
    return new StatsTableWriter(region, model, layout);
  }

  /**
   * Publishes the domain's identity words (rev ≥ 3) and name (rev ≥ 5); properties left out are
   * not touched. Throws UsageError for a value out of range or a word this writer's revision does
   * not have, before anything is written. The name is stored before the words.
   */
  setIdentity(identity: DomainIdentityInput): void {
    const { words, name } = encodeDomainIdentity(this.model, identity);
    if (name) this.#storeBytes(name.offset, name.bytes);
    this.#store(0, words);
  }

  /** Publishes vCPU `index`'s identity words (rev ≥ 3): fds are stored as fd + 1, `null` = none. */
  setVcpuIdentity(index: number, identity: VcpuIdentityInput): void {
    this.#vcpuIndex(index);
    this.#store(blockOffset(this.layout, 'vcpu', index), encodeVcpuIdentity(this.model, identity));
  }

  /** Each word with one atomic store: readers see 0 or the whole value, never half of a u64. */
  #store(blockStart: number, words: EncodedWord[]): void {
    if (this.#closed) throw new ClosedError(`region ${this.region.name}`);
    const bytes = this.region.bytes;
    for (const { word, value } of words) {
      const at = bytes.byteOffset + blockStart + word.offset;
      if (word.size === 4) Atomics.store(this.region.words, (blockStart + word.offset) / 4, Number(value));
      else if (at % 8 === 0) Atomics.store(new BigUint64Array(bytes.buffer, at, 1), 0, value);
      else new DataView(bytes.buffer, at, 8).setBigUint64(0, value, true); // unaligned view (test buffers only)
    }
  }

  /** Bytes of the domain header, a u32 at a time (atomically) where aligned: readers never see a torn word. */
  #storeBytes(offset: number, data: Uint8Array): void {
    if (this.#closed) throw new ClosedError(`region ${this.region.name}`);
    const bytes = this.region.bytes;
    let i = 0;
    while (i < data.length) {
      const at = offset + i;
      if (at % 4 === 0 && i + 4 <= data.length) {
        const word = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
        Atomics.store(this.region.words, at / 4, word >>> 0);
        i += 4;
      } else {
        bytes[at] = data[i]!;
        i += 1;
      }
    }
  }

  #vcpuIndex(index: number): void {
    const n = this.layout.nrVcpus;
    if (!Number.isInteger(index) || index < 0 || index >= n)
      throw new UsageError(`vCPU ${index} out of range (0..${n - 1})`);
  }

  /** A handle on a domain group. */
  dom(group: string): GroupWriter {
    return this.#handle('dom', group, 0);
  }

  /** A handle on a group of vCPU `vcpu`. */
  vcpu(vcpu: number, group: string): GroupWriter {
    return this.#handle('vcpu', group, vcpu);
  }

  /** A handle on the arch block of vCPU `vcpu` (when the table has one). */
  arch(vcpu: number): GroupWriter {
    return this.#handle('vcpu-arch', 'arch', vcpu);
  }

  /** A per-port counter over vCPU `vcpu`'s ports group (rev ≥ 4, when the table produces it). */
  ports(vcpu: number): PortCounter<GroupWriter> {
    return new PortCounter(this.vcpu(vcpu, PORTS_GROUP));
  }

  /** update('dom' | vcpu index, group, fn): fn runs between begin and end of that group's seqlock. */
  update(block: 'dom' | number, group: string, fn: (g: GroupWriter) => void): void {
    (block === 'dom' ? this.dom(group) : this.vcpu(block, group)).update(fn);
  }

  #handle(scope: 'dom' | 'vcpu' | 'vcpu-arch', name: string, index: number): GroupWriter {
    if (this.#closed) throw new ClosedError(`region ${this.region.name}`);
    const key = `${scope}/${index}/${name}`;
    const cached = this.#groups.get(key);
    if (cached) return cached;
    const L = this.layout;
    let model: GroupModel | undefined;
    if (scope === 'vcpu-arch') {
      if (L.archVcpuSize === 0) throw new UsageError('this table has no vCPU arch blocks');
      model = this.model.vcpuArch;
    } else {
      model = this.model[scope].find((g) => g.name === name);
      if (!model) throw new UsageError(`revision ${this.model.abi.revision} has no ${scope} group ${name}`);
      const active = scope === 'dom' ? L.domActive : L.vcpuActive;
      if (((active >> BigInt(model.bit)) & 1n) === 0n) {
        throw new UsageError(
          `${scope} group ${name} is not active in this table: producing it would break the contract`,
        );
      }
    }
    if (!model) throw new UsageError(`no ${scope} ${name}`);
    if (scope !== 'dom') this.#vcpuIndex(index);
    const handle = new GroupWriter(this.region.words, model, blockOffset(L, scope, index));
    this.#groups.set(key, handle);
    return handle;
  }
}
