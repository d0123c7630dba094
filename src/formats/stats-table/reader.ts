/**
 * The consumer side: reads a live table without ever writing to it or making the producer wait.
 *
 * open() copies the header out of the region and validates it (FormatError on anything that
 * would make an address wrong). snapshot() then copies the table in one pass, bracketed by the
 * sequence words of every group it reads: a group whose word was odd or changed across the copy
 * is re-read on its own with a bounded retry, and reported torn if it never settles. Decoding
 * works on the copy only (no double fetch).
 *
 * Everything is addressed through the producer's header (layout.ts blockOffset). A consumer
 * field past the producer's block size is absent, and so is a field carved after the producer's
 * revision (producer.ts); producer bytes and active bits the consumer does not know are reported
 * as ignored.
 *
 * The identity words (identity.ts) are not layout: they may be published after the table was
 * opened, so only the layout words must stay as they were at open.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { ClosedError, FormatError, type Violation } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_READ_RETRIES,
  ReadBudget,
  seqReadInto,
  unstableRegionError,
} from '../../shm/seqlock.ts';
import { type DomainIdentity, decodeDomainIdentity, decodeVcpuIdentity, type VcpuIdentity } from './identity.ts';
import { blockOffset, layoutExtent, producerSize, readLayout, type TableLayout } from './layout.ts';
import {
  type FieldId,
  FORMAT,
  type GroupModel,
  type Scope,
  sameFieldId,
  type TableModel,
  tableModel,
} from './model.ts';
import { type ProducerView, producerGroup, producerView } from './producer.ts';

export type GroupState = 'ok' | 'inactive' | 'absent' | 'torn' | 'invalid';
export type CounterState = 'value' | 'inactive' | 'absent';

/** One group of one block that the consumer knows, as the reader places it. */
export interface GroupSlot {
  scope: Scope;
  /** vCPU index (0 for the domain block). */
  index: number;
  group: GroupModel;
  /** Offset of the block in the region (from the producer's header). */
  blockStart: number;
  /** Bytes of the group the producer has (the group may be cut short by the producer's size). */
  length: number;
  /** State known from the header alone: absent, inactive, or 'ok' meaning "to be read". */
  staticState: 'ok' | 'inactive' | 'absent';
}

export interface TableSnapshot {
  /** Private copy of the region's first layoutExtent bytes. */
  readonly bytes: Uint8Array;
  /** Per read slot (reader.readSlots order): the sequence value of the copy. */
  readonly seqs: Uint32Array;
  /** Per read slot: 1 when the group never settled within the retry bound. */
  readonly torn: Uint8Array;
  /** Total retries spent by the last snapshot. */
  retries: number;
  /** Number of torn groups in the last snapshot. */
  tornCount: number;
}

export interface DecodedCounter {
  name: string;
  /** What the counter is across revisions (a rename keeps it). */
  id: FieldId;
  state: CounterState;
  /** Scalar counters. */
  value?: bigint;
  /** Histograms: one value per bucket. */
  buckets?: bigint[];
  field: GroupModel['counters'][number]['field'];
}

export interface DecodedGroup {
  scope: Scope;
  name: string;
  bit: number;
  state: GroupState;
  seq?: number;
  counters: DecodedCounter[];
}

export interface DecodedBlock {
  scope: 'dom' | 'vcpu';
  index: number;
  /** Offset of the block in the region. */
  offset: number;
  magicOk: boolean;
  vcpuId?: number;
  /** vCPU blocks: the identity words present and published (`{}` when none). */
  identity?: VcpuIdentity;
  groups: DecodedGroup[];
  arch?: DecodedGroup;
}

export interface DecodedTable {
  layout: TableLayout;
  consumerRevision: number;
  /** The domain's identity words present and published (`{}` when none, e.g. a rev-2 producer). */
  identity: DomainIdentity;
  /** Schema names of the identity fields the consumer's revision has (dom words, name, vCPU words; none before rev 3). */
  identityWords: readonly string[];
  dom: DecodedBlock;
  vcpus: DecodedBlock[];
  /** Active bits the consumer has no group for: present, ignored. */
  unknownActive: { scope: 'dom' | 'vcpu'; bit: number }[];
  /** Bytes the producer writes past what the consumer knows (ignored), per block. */
  ignoredBytes: { dom: number; vcpu: number; arch: number };
  retries: number;
  tornCount: number;
}

/** A DecodedTable whose vCPU blocks are decoded as they are walked (see decodeLazily). */
export interface LazyDecodedTable extends Omit<DecodedTable, 'vcpus'> {
  vcpus: Iterable<DecodedBlock>;
}

export interface ReaderOptions {
  /** Bound on the retries of one group read (default DEFAULT_MAX_RETRIES). */
  maxRetries?: number;
  /**
   * Bound on the retries of one whole snapshot, every group together (default
   * DEFAULT_READ_RETRIES); past it the snapshot throws a FormatError with rule 'unstable'.
   */
  maxReadRetries?: number;
}

/** A group's name in messages and violations: `dom.G`, `vcpu[i].G` or `vcpu[i].arch`. */
export function slotField(slot: GroupSlot): string {
  if (slot.scope === 'dom') return `dom.${slot.group.name}`;
  return `vcpu[${slot.index}].${slot.scope === 'vcpu' ? slot.group.name : 'arch'}`;
}

const ALL_ONES = 0xffff_ffff_ffff_ffffn;

export class StatsTableReader {
  readonly model: TableModel;
  readonly layout: TableLayout;
  /** Layout warnings found at open (e.g. an unknown arch). */
  readonly warnings: readonly Violation[];
  /** Every (block, group) the consumer knows, in order: dom groups, then per vCPU its groups and arch block. */
  readonly slots: readonly GroupSlot[];
  /** Indexes into `slots` of the groups a snapshot reads. */
  readonly readSlots: readonly number[];
  readonly extent: number;
  /** What this consumer knows of the producer's revision. */
  readonly producer: ProducerView;
  readonly #maxRetries: number;
  readonly #maxReadRetries: number;
  readonly #regionName: string;
  readonly #header: Uint8Array;
  /** The region's views (the extent pre-cut, so a snapshot allocates nothing); dropped on close. */
  #views: { words: Uint32Array; bytes: Uint8Array; extent: Uint8Array; u64: BigUint64Array | undefined } | undefined;
  /** Indexes (in `u64`) of the domain's u64 identity words, re-read atomically into each copy. */
  readonly #identityU64: number[];
  // Per read slot, flat for the hot loop.
  readonly #seqIndex: Uint32Array;
  readonly #start: Float64Array;
  readonly #length: Float64Array;
  readonly #before: Uint32Array;

  private constructor(region: Region, model: TableModel, options: ReaderOptions) {
    const { layout, raw, violations } = readLayout(region.bytes, model);
    this.model = model;
    this.layout = layout;
    this.warnings = violations;
    this.#header = raw.subarray(0, model.layoutWordsEnd);
    this.producer = producerView(model, layout.revision);
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#maxReadRetries = options.maxReadRetries ?? DEFAULT_READ_RETRIES;
    this.#regionName = region.name;
    this.extent = layoutExtent(layout);
    this.slots = placeSlots(model, layout);
    this.readSlots = this.slots.flatMap((s, i) => (s.staticState === 'ok' ? [i] : []));
    const n = this.readSlots.length;
    this.#seqIndex = new Uint32Array(n);
    this.#start = new Float64Array(n);
    this.#length = new Float64Array(n);
    this.#before = new Uint32Array(n);
    this.readSlots.forEach((slotIndex, k) => {
      const s = this.slots[slotIndex]!;
      this.#seqIndex[k] = (s.blockStart + s.group.seqOffset) / 4;
      this.#start[k] = s.blockStart + s.group.offset;
      this.#length[k] = s.length;
    });
    const bytes = region.bytes;
    const aligned = bytes.byteOffset % 8 === 0;
    this.#identityU64 = Object.values(model.domIdentity)
      .filter((w) => w.size === 8 && w.offset + 8 <= layout.domSize)
      .map((w) => w.offset / 8);
    const u64 = aligned ? new BigUint64Array(bytes.buffer, bytes.byteOffset, model.headerSize / 8) : undefined;
    this.#views = { words: region.words, bytes, extent: bytes.subarray(0, this.extent), u64 };
    region.onClose(() => {
      this.#views = undefined;
    });
  }

  /** Reads and validates the producer's header; throws FormatError if addresses cannot be trusted. */
  static open(region: Region, abi: ResolvedAbi, options: ReaderOptions = {}): StatsTableReader {
    return new StatsTableReader(region, tableModel(abi), options);
  }

  /** A snapshot buffer sized for this table, reusable across snapshot() calls. */
  allocSnapshot(): TableSnapshot {
    const n = this.readSlots.length;
    return {
      bytes: new Uint8Array(this.extent),
      seqs: new Uint32Array(n),
      torn: new Uint8Array(n),
      retries: 0,
      tornCount: 0,
    };
  }

  /**
   * Copies the table consistently. Reuses `into` when given.
   *
   * One pass for the whole extent: an Atomics.load of every group's sequence word, one copy of
   * the extent, an Atomics.load of every word again. Only a group whose word was odd or changed
   * is re-read on its own (seqReadInto, bounded). The two atomic loads per group are the floor of
   * the protocol: on Node 20 each is a call into V8's generic Atomics builtin (TurboFan does not
   * inline them), so they, not the copy, dominate the time of a snapshot.
   */
  snapshot(into: TableSnapshot = this.allocSnapshot()): TableSnapshot {
    const views = this.#views;
    if (!views) throw new ClosedError('region');
    const { words, bytes: src, extent } = views;
    const dst = into.bytes;
    const seqs = into.seqs;
    const torn = into.torn;
    const n = this.#seqIndex.length;
    const seqIndex = this.#seqIndex;
    const before = this.#before;
    for (let k = 0; k < n; k++) before[k] = Atomics.load(words, seqIndex[k]!);
    dst.set(extent);
    let retries = 0;
    let tornCount = 0;
    let budget: ReadBudget | undefined; // made at the first group that needs a retry
    for (let k = 0; k < n; k++) {
      const b = before[k]!;
      const after = Atomics.load(words, seqIndex[k]!);
      if ((b & 1) === 0 && after === b) {
        seqs[k] = b;
        torn[k] = 0;
        continue;
      }
      const start = this.#start[k]!;
      budget ??= new ReadBudget(this.#maxReadRetries);
      const r = seqReadInto(words, seqIndex[k]!, src, start, this.#length[k]!, dst, start, this.#maxRetries, budget);
      if (r.status === 'unstable') {
        const slot = this.slots[this.readSlots[k]!]!;
        throw unstableRegionError(FORMAT, `${slotField(slot)}.seq`, `stats table ${this.#regionName}`, budget);
      }
      retries += r.retries + 1;
      seqs[k] = r.seq;
      torn[k] = r.status === 'torn' ? 1 : 0;
      if (r.status === 'torn') tornCount++;
    }
    // A u64 identity word is stored with one 64-bit store: load it with one too, so the copy never
    // holds half of it (a plain byte copy gives no such guarantee).
    if (views.u64) {
      const out = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
      for (const i of this.#identityU64) out.setBigUint64(8 * i, Atomics.load(views.u64, i), true);
    }
    const header = this.#header;
    for (let i = 0; i < header.length; i++) {
      if (dst[i] !== header[i]) {
        throw new FormatError(
          FORMAT,
          'dom',
          'layout-changed',
          'the header changed after the table was opened',
          String(i),
        );
      }
    }
    into.retries = retries;
    into.tornCount = tornCount;
    return into;
  }

  /** Decodes a snapshot into blocks, groups and counters. */
  decode(snapshot: TableSnapshot): DecodedTable {
    const table = this.decodeLazily(snapshot);
    return { ...table, vcpus: Array.from(table.vcpus) };
  }

  /**
   * decode() with the vCPU blocks decoded one at a time as `vcpus` is walked (once, in order):
   * a reader of a table with thousands of vCPUs that handles each block and drops it (hvkit
   * dump) holds one decoded block, not all of them.
   */
  decodeLazily(snapshot: TableSnapshot): LazyDecodedTable {
    const { model, layout } = this;
    const bytes = snapshot.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const readState = new Map<number, number>();
    this.readSlots.forEach((slotIndex, k) => {
      readState.set(slotIndex, k);
    });
    const magicOk = (offset: number, magic: number) => view.getUint32(offset, true) === magic;

    const decodeSlot = (slotIndex: number, blockValid: boolean): DecodedGroup => {
      const s = this.slots[slotIndex]!;
      const g = s.group;
      const k = readState.get(slotIndex);
      let state: GroupState = s.staticState;
      if (state === 'ok' && !blockValid) state = 'invalid';
      else if (state === 'ok' && k !== undefined && snapshot.torn[k] === 1) state = 'torn';
      const size = producerSize(layout, s.scope);
      // The producer's group and counters, matched by identity (a rename since its revision keeps it).
      const theirs = this.producer.newer ? undefined : producerGroup(this.producer, g);
      const counters = g.counters.map((c): DecodedCounter => {
        const carvedLater = theirs !== undefined && !theirs.counters.some((x) => sameFieldId(x.id, c.id));
        if (c.offset + 8 * c.count > size || carvedLater)
          return { name: c.name, id: c.id, state: 'absent', field: c.field };
        if (state !== 'ok')
          return { name: c.name, id: c.id, state: state === 'absent' ? 'absent' : 'inactive', field: c.field };
        const at = s.blockStart + c.offset;
        if (c.count === 1 && c.field.kind === 'int') {
          const value = view.getBigUint64(at, true);
          return value === ALL_ONES && c.field.inactiveWhenAllOnes
            ? { name: c.name, id: c.id, state: 'inactive', field: c.field }
            : { name: c.name, id: c.id, state: 'value', value, field: c.field };
        }
        const buckets: bigint[] = [];
        for (let i = 0; i < c.count; i++) buckets.push(view.getBigUint64(at + 8 * i, true));
        const inactive = c.field.inactiveWhenAllOnes && buckets.every((b) => b === ALL_ONES);
        return inactive
          ? { name: c.name, id: c.id, state: 'inactive', field: c.field }
          : { name: c.name, id: c.id, state: 'value', buckets, field: c.field };
      });
      const seq = k !== undefined && state !== 'invalid' ? snapshot.seqs[k] : undefined;
      return { scope: s.scope, name: g.name, bit: g.bit, state, ...(seq === undefined ? {} : { seq }), counters };
    };

    let slot = 0;
    const dom: DecodedBlock = { scope: 'dom', index: 0, offset: 0, magicOk: true, groups: [] };
    for (let i = 0; i < model.dom.length; i++) dom.groups.push(decodeSlot(slot++, true));
    const producer = this.producer;
    function* decodeVcpus(): Generator<DecodedBlock> {
      for (let v = 0; v < layout.nrVcpus; v++) {
        const offset = blockOffset(layout, 'vcpu', v);
        const ok = magicOk(offset, model.vcpuMagic);
        const block: DecodedBlock = {
          scope: 'vcpu',
          index: v,
          offset,
          magicOk: ok,
          vcpuId: view.getUint32(offset + model.vcpuIdOffset, true),
          identity: decodeVcpuIdentity(bytes, offset, model, producer),
          groups: [],
        };
        for (let i = 0; i < model.vcpu.length; i++) block.groups.push(decodeSlot(slot++, ok));
        if (model.vcpuArch) {
          const arch = decodeSlot(slot++, ok);
          if (arch.state !== 'absent') block.arch = arch;
        }
        yield block;
      }
    }
    const vcpus = decodeVcpus();
    return {
      layout,
      consumerRevision: model.abi.revision,
      identity: decodeDomainIdentity(bytes, model, this.producer),
      identityWords: [
        ...Object.keys(model.domIdentity),
        ...(model.domName ? ['name'] : []),
        ...Object.keys(model.vcpuIdentity),
      ],
      dom,
      vcpus,
      unknownActive: unknownBits(model, layout),
      ignoredBytes: {
        dom: Math.max(0, layout.domSize - model.domSize),
        vcpu: Math.max(0, layout.vcpuSize - model.vcpuSize),
        arch: model.vcpuArch && isX86(model, layout) ? Math.max(0, layout.archVcpuSize - model.vcpuArch.size) : 0,
      },
      retries: snapshot.retries,
      tornCount: snapshot.tornCount,
    };
  }

  /** The domain's identity words, from a fresh copy of the header (cheaper than a snapshot). */
  identity(): DomainIdentity {
    const views = this.#views;
    if (!views) throw new ClosedError('region');
    const copy = views.bytes.slice(0, this.model.headerSize);
    if (views.u64) {
      const out = new DataView(copy.buffer);
      for (const i of this.#identityU64) out.setBigUint64(8 * i, Atomics.load(views.u64, i), true);
    }
    return decodeDomainIdentity(copy, this.model, this.producer);
  }

  /** snapshot() then decode(). */
  read(): DecodedTable {
    return this.decode(this.snapshot());
  }
}

function isX86(model: TableModel, layout: TableLayout): boolean {
  return layout.arch === model.archValues.get('x86_64') && layout.archVcpuSize > 0;
}

function bitSet(word: bigint, bit: number): boolean {
  return ((word >> BigInt(bit)) & 1n) === 1n;
}

/** Places every group the consumer knows into the producer's layout. */
function placeSlots(model: TableModel, layout: TableLayout): GroupSlot[] {
  const slots: GroupSlot[] = [];
  const place = (scope: Scope, index: number, g: GroupModel, active: boolean) => {
    const size = producerSize(layout, scope);
    const blockStart = blockOffset(layout, scope, index);
    const present = g.seqOffset + 4 <= size;
    const length = present ? Math.min(g.size, size - g.offset) : 0;
    const staticState = !present ? 'absent' : active ? 'ok' : 'inactive';
    slots.push({ scope, index, group: g, blockStart, length, staticState });
  };
  for (const g of model.dom) place('dom', 0, g, bitSet(layout.domActive, g.bit));
  const x86 = isX86(model, layout);
  for (let v = 0; v < layout.nrVcpus; v++) {
    for (const g of model.vcpu) place('vcpu', v, g, bitSet(layout.vcpuActive, g.bit));
    if (model.vcpuArch) place('vcpu-arch', v, model.vcpuArch, x86);
  }
  // An arch block of an unknown or absent arch is not read at all.
  for (const s of slots) if (s.scope === 'vcpu-arch' && !x86) s.staticState = 'absent';
  return slots;
}

function unknownBits(model: TableModel, layout: TableLayout): { scope: 'dom' | 'vcpu'; bit: number }[] {
  const out: { scope: 'dom' | 'vcpu'; bit: number }[] = [];
  for (const scope of ['dom', 'vcpu'] as const) {
    const word = scope === 'dom' ? layout.domActive : layout.vcpuActive;
    const known = new Set(model[scope].map((g) => g.bit));
    for (let bit = 0; bit < 64; bit++) if (bitSet(word, bit) && !known.has(bit)) out.push({ scope, bit });
  }
  return out;
}
