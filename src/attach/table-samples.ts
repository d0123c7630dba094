/**
 * The samples of a stats-table snapshot, straight from its bytes: what decode() followed by
 * tableStatSamples() gives (stat-samples.ts), without the decoded table in between.
 *
 * Everything that depends only on the table's layout is worked out once, when the table is
 * opened: which groups are read at all, which counters the producer has (offset inside its block
 * and carved in its revision), their StatSample name, kind, unit and field, and where their words
 * are in the snapshot. A sample then checks what can change between snapshots — a vCPU block's
 * magic, a torn group, a counter marked inactive (all ones) — and makes one StatSample per counter
 * with its value or buckets. A counter whose words are those of the previous sample gives the
 * previous sample's StatSample object again (samples are immutable; sample.ts): an idle VM costs
 * a compare of its words, not a BigInt and an object per counter. The per-stat metadata objects
 * (unit, histogram, field) are shared by every sample and must not be mutated either.
 */
import { InternalError } from '../errors.ts';
import { blockOffset, producerSize } from '../formats/stats-table/layout.ts';
import { type GroupModel, sameFieldId } from '../formats/stats-table/model.ts';
import { producerGroup } from '../formats/stats-table/producer.ts';
import type { StatsTableReader, TableSnapshot } from '../formats/stats-table/reader.ts';
import type { StatSample, VcpuSample } from './sample.ts';
import { tableStatTemplate } from './stat-samples.ts';

/** One counter the producer has, in a group that is read. */
interface CounterPlan {
  /** The sample without its value (shared metadata). */
  name: string;
  kind: StatSample['kind'];
  unit: StatSample['unit'];
  field: NonNullable<StatSample['field']>;
  histogram: StatSample['histogram'];
  /** Index of the first u64 word in the snapshot. */
  word: number;
  count: number;
  /** One u64 holding an integer (a value); otherwise buckets. */
  scalar: boolean;
  inactiveWhenAllOnes: boolean;
  /** Index in the plan's `last` words of this counter's words as last sampled. */
  lastAt: number;
  /** The sample made last for this counter (reused while its words stay the same). */
  last: StatSample | undefined;
}

interface GroupPlan {
  /** Index of the group among the reader's read slots (its torn flag). */
  readSlot: number;
  counters: CounterPlan[];
}

interface BlockPlan {
  /** vCPU index; -1 for the domain block. */
  index: number;
  /** Word index (u32) of the vCPU block's magic; -1 for the domain block (always valid). */
  magicWord: number;
  groups: GroupPlan[];
}

export interface TableSamples {
  vm: StatSample[];
  vcpus: VcpuSample[];
}

const ALL_ONES_32 = 0xffff_ffff;

export class TableSamplePlan {
  readonly #dom: BlockPlan;
  readonly #vcpus: BlockPlan[];
  readonly #vcpuMagic: number;
  /** Every counter's words as last sampled (see CounterPlan.lastAt). */
  readonly #last: Uint32Array;

  constructor(reader: StatsTableReader) {
    const { model, layout, producer, slots, readSlots } = reader;
    if (layout.vcpuOffs % 8 !== 0 || layout.vcpuStride % 8 !== 0 || layout.archVcpuOffs % 8 !== 0) {
      // The layout rules align every block to 8 (readLayout refuses others): a counter is a u64 word.
      throw new InternalError(`stats table blocks not 8-byte aligned: ${layout.vcpuOffs}/${layout.vcpuStride}`);
    }
    this.#vcpuMagic = model.vcpuMagic;
    const readSlotOf = new Map<number, number>();
    for (const [k, slotIndex] of readSlots.entries()) readSlotOf.set(slotIndex, k);
    const theirs = new Map<GroupModel, GroupModel | undefined>();
    const producerOf = (g: GroupModel) => {
      if (!theirs.has(g)) theirs.set(g, producer.newer ? undefined : producerGroup(producer, g));
      return theirs.get(g);
    };
    const templates = new Map<GroupModel, (CounterPlan | undefined)[]>();
    /** The counters of `g` the producer has, as templates with offsets relative to the block. */
    const templatesOf = (g: GroupModel): (CounterPlan | undefined)[] => {
      let t = templates.get(g);
      if (!t) {
        const size = producerSize(layout, g.scope);
        const their = producerOf(g);
        t = g.counters.map((c) => {
          const carvedLater = their !== undefined && !their.counters.some((x) => sameFieldId(x.id, c.id));
          if (c.offset + 8 * c.count > size || carvedLater) return undefined; // absent
          if (c.offset % 8 !== 0) throw new InternalError(`counter ${g.name}.${c.name} not 8-byte aligned`);
          const base = tableStatTemplate(g.name, c);
          return {
            name: base.name,
            kind: base.kind,
            unit: base.unit,
            field: c.id,
            histogram: base.histogram,
            word: c.offset / 8,
            count: c.count,
            scalar: c.count === 1 && c.field.kind === 'int',
            inactiveWhenAllOnes: c.field.inactiveWhenAllOnes === true,
            lastAt: 0,
            last: undefined,
          };
        });
        templates.set(g, t);
      }
      return t;
    };
    const blocks = new Map<string, BlockPlan>();
    const blockFor = (scope: GroupModel['scope'], index: number): BlockPlan => {
      const key = scope === 'dom' ? 'dom' : `v${index}`;
      let b = blocks.get(key);
      if (!b) {
        b = {
          index: scope === 'dom' ? -1 : index,
          magicWord: scope === 'dom' ? -1 : blockOffset(layout, 'vcpu', index) / 4,
          groups: [],
        };
        blocks.set(key, b);
      }
      return b;
    };
    let lastWords = 0;
    blockFor('dom', 0);
    for (let v = 0; v < layout.nrVcpus; v++) blockFor('vcpu', v);
    slots.forEach((s, slotIndex) => {
      const block = blockFor(s.scope, s.index);
      if (s.staticState !== 'ok') return; // inactive or absent: never a sample
      const k = readSlotOf.get(slotIndex);
      if (k === undefined) throw new InternalError(`stats-table slot ${slotIndex} is 'ok' but not read`);
      const firstWord = s.blockStart / 8;
      const counters: CounterPlan[] = [];
      for (const t of templatesOf(s.group)) {
        if (!t) continue;
        counters.push({ ...t, word: firstWord + t.word, lastAt: lastWords });
        lastWords += 2 * t.count;
      }
      if (counters.length > 0) block.groups.push({ readSlot: k, counters });
    });
    this.#last = new Uint32Array(lastWords);
    this.#dom = blocks.get('dom')!;
    this.#vcpus = [...blocks.values()].filter((b) => b.index >= 0);
  }

  /** The samples of a snapshot taken by the reader this plan was made for. */
  samples(snapshot: TableSnapshot): TableSamples {
    const bytes = snapshot.bytes;
    if (bytes.byteOffset % 8 !== 0) throw new InternalError('stats-table snapshot not 8-byte aligned');
    const u64 = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    const torn = snapshot.torn;
    const vm: StatSample[] = [];
    appendBlock(vm, this.#dom, u64, u32, torn, this.#last);
    const vcpus: VcpuSample[] = new Array(this.#vcpus.length);
    for (let i = 0; i < this.#vcpus.length; i++) {
      const b = this.#vcpus[i]!;
      const stats: StatSample[] = [];
      // A vCPU block whose magic is wrong is invalid: none of its groups is sampled.
      if (u32[b.magicWord] === this.#vcpuMagic) appendBlock(stats, b, u64, u32, torn, this.#last);
      vcpus[i] = { index: b.index, stats };
    }
    return { vm, vcpus };
  }
}

function appendBlock(
  out: StatSample[],
  block: BlockPlan,
  u64: BigUint64Array,
  u32: Uint32Array,
  torn: Uint8Array,
  last: Uint32Array,
): void {
  for (const g of block.groups) {
    if (torn[g.readSlot] === 1) continue;
    for (const c of g.counters) {
      const w = c.word;
      const words = 2 * c.count;
      // Unchanged since the last sample: the same (immutable) sample, no BigInt made.
      if (c.last !== undefined && sameWords(u32, 2 * w, last, c.lastAt, words)) {
        out.push(c.last);
        continue;
      }
      if (c.inactiveWhenAllOnes && allOnes(u32, w, c.count)) continue;
      const s: StatSample = { name: c.name, kind: c.kind, unit: c.unit, origin: 'vmm', field: c.field };
      if (c.histogram) s.histogram = c.histogram;
      if (c.scalar) s.value = u64[w]!;
      else {
        const buckets: bigint[] = new Array(c.count);
        for (let i = 0; i < c.count; i++) buckets[i] = u64[w + i]!;
        s.buckets = buckets;
      }
      last.set(u32.subarray(2 * w, 2 * w + words), c.lastAt);
      c.last = s;
      out.push(s);
    }
  }
}

function sameWords(a: Uint32Array, at: number, b: Uint32Array, bt: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[at + i] !== b[bt + i]) return false;
  return true;
}

function allOnes(u32: Uint32Array, word: number, count: number): boolean {
  for (let i = 2 * word; i < 2 * (word + count); i++) if (u32[i] !== ALL_ONES_32) return false;
  return true;
}
