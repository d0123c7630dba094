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
 * previous sample's StatSample object again, and a block whose samples are all the same gives
 * its previous list (and VcpuSample) again — samples and their lists are immutable (sample.ts):
 * an idle VM costs a compare of its words, not a BigInt and an object per counter. The per-stat metadata objects
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
  help: StatSample['help'];
  /** Index of the first u64 word in the snapshot. */
  word: number;
  count: number;
  /** One u64 holding an integer (a value); otherwise buckets. */
  scalar: boolean;
  inactiveWhenAllOnes: boolean;
  /** Index in the plan's `last` words of this counter's words as last sampled. */
  lastAt: number;
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
  /** Groups torn in this snapshot (left out). */
  tornCount: number;
}

const ALL_ONES_32 = 0xffff_ffff;

export class TableSamplePlan {
  readonly #dom: BlockPlan;
  readonly #vcpus: BlockPlan[];
  readonly #vcpuMagic: number;
  /** Every counter's words as last sampled (see CounterPlan.lastAt). */
  readonly #last: Uint32Array;
  /** The plan flattened for the hot loop: blocks → groups → counters, as index ranges. */
  readonly #flat: FlatPlan;
  #views: { of: Uint8Array; u64: BigUint64Array; u32: Uint32Array; buffer: Buffer } | undefined;
  /** The VcpuSample objects given last (given again with an unchanged list). */
  readonly #vcpuSamples: VcpuSample[] = [];

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
            help: base.help,
            word: c.offset / 8,
            count: c.count,
            scalar: c.count === 1 && c.field.kind === 'int',
            inactiveWhenAllOnes: c.field.inactiveWhenAllOnes === true,
            lastAt: 0,
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
    this.#flat = flatten([this.#dom, ...this.#vcpus]);
  }

  /** The samples of a snapshot taken by the reader this plan was made for. */
  samples(snapshot: TableSnapshot): TableSamples {
    const bytes = snapshot.bytes;
    let views = this.#views;
    if (views?.of !== bytes) {
      if (bytes.byteOffset % 8 !== 0) throw new InternalError('stats-table snapshot not 8-byte aligned');
      views = {
        of: bytes,
        u64: new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3),
        u32: new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2),
        buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      };
      this.#views = views;
    }
    const { u64, u32, buffer } = views;
    const f = this.#flat;
    const torn = snapshot.torn;
    const vm = sampleBlock(f, 0, buffer, u64, u32, torn, this.#last);
    const vcpus: VcpuSample[] = new Array(this.#vcpus.length);
    for (let i = 0; i < this.#vcpus.length; i++) {
      const b = this.#vcpus[i]!;
      // A vCPU block whose magic is wrong is invalid: none of its groups is sampled.
      const stats =
        u32[b.magicWord] === this.#vcpuMagic ? sampleBlock(f, i + 1, buffer, u64, u32, torn, this.#last) : [];
      const before = this.#vcpuSamples[i];
      vcpus[i] = before?.stats === stats ? before : { index: b.index, stats };
      this.#vcpuSamples[i] = vcpus[i]!;
    }
    return { vm, vcpus, tornCount: snapshot.tornCount };
  }
}

/** Per block its groups, per group its counters, as ranges into flat arrays (monomorphic loads only). */
interface FlatPlan {
  blockGroups: Int32Array; // [first, end) per block: 2 entries per block
  blockCounters: Int32Array; // counters per block (the most a block can give)
  groupReadSlot: Int32Array;
  groupCounters: Int32Array; // [first, end) per group
  /** Per counter: first u32 word in the snapshot, u32 words, first word in `last`, flags. */
  word: Int32Array;
  words: Int32Array;
  lastAt: Int32Array;
  flags: Uint8Array;
  counters: CounterPlan[];
  /** Per counter: the sample made last (reused while its words stay the same). */
  made: (StatSample | undefined)[];
  /** Per block: the list it gave last (given again while every sample in it is the same). */
  blockOut: (StatSample[] | undefined)[];
  /** Per block: the byte range of its counters in the snapshot ([start, end), 2 entries per block). */
  blockBytes: Int32Array;
  /** Per block: those bytes when blockOut was made from a snapshot with no torn group; else undefined. */
  blockCopy: (Buffer | undefined)[];
}

const SCALAR = 1;
const INACTIVE_WHEN_ALL_ONES = 2;

function flatten(blocks: BlockPlan[]): FlatPlan {
  const groups = blocks.flatMap((b) => b.groups);
  const counters = groups.flatMap((g) => g.counters);
  const f: FlatPlan = {
    blockGroups: new Int32Array(2 * blocks.length),
    blockCounters: new Int32Array(blocks.length),
    groupReadSlot: new Int32Array(groups.length),
    groupCounters: new Int32Array(2 * groups.length),
    word: new Int32Array(counters.length),
    words: new Int32Array(counters.length),
    lastAt: new Int32Array(counters.length),
    flags: new Uint8Array(counters.length),
    counters,
    made: new Array(counters.length).fill(undefined),
    blockOut: new Array(blocks.length).fill(undefined),
    blockBytes: new Int32Array(2 * blocks.length),
    blockCopy: new Array(blocks.length).fill(undefined),
  };
  let g = 0;
  let c = 0;
  blocks.forEach((b, bi) => {
    f.blockGroups[2 * bi] = g;
    const firstCounter = c;
    for (const group of b.groups) {
      f.groupReadSlot[g] = group.readSlot;
      f.groupCounters[2 * g] = c;
      for (const counter of group.counters) {
        f.word[c] = 2 * counter.word;
        f.words[c] = 2 * counter.count;
        f.lastAt[c] = counter.lastAt;
        f.flags[c] = (counter.scalar ? SCALAR : 0) | (counter.inactiveWhenAllOnes ? INACTIVE_WHEN_ALL_ONES : 0);
        c++;
      }
      f.groupCounters[2 * g + 1] = c;
      g++;
    }
    f.blockGroups[2 * bi + 1] = g;
    f.blockCounters[bi] = c - firstCounter;
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (let k = firstCounter; k < c; k++) {
      start = Math.min(start, 4 * f.word[k]!);
      end = Math.max(end, 4 * (f.word[k]! + f.words[k]!));
    }
    f.blockBytes[2 * bi] = c > firstCounter ? start : 0;
    f.blockBytes[2 * bi + 1] = end;
  });
  return f;
}

function sampleBlock(
  f: FlatPlan,
  block: number,
  buffer: Buffer,
  u64: BigUint64Array,
  u32: Uint32Array,
  torn: Uint8Array,
  last: Uint32Array,
): StatSample[] {
  const gStart = f.blockGroups[2 * block]!;
  const gEnd = f.blockGroups[2 * block + 1]!;
  let anyTorn = false;
  for (let g = gStart; g < gEnd; g++) if (torn[f.groupReadSlot[g]!] === 1) anyTorn = true;
  // The common case of an idle VM: the block's bytes are those its last list was made from
  // (one memcmp), so is the list.
  const start = f.blockBytes[2 * block]!;
  const end = f.blockBytes[2 * block + 1]!;
  const copy = f.blockCopy[block];
  if (!anyTorn && copy !== undefined && buffer.compare(copy, 0, end - start, start, end) === 0) {
    return f.blockOut[block]!;
  }
  const out = sampleCounters(f, block, gStart, gEnd, u64, u32, torn, last);
  if (anyTorn) f.blockCopy[block] = undefined;
  else {
    const keep = copy ?? Buffer.alloc(end - start);
    buffer.copy(keep, 0, start, end);
    f.blockCopy[block] = keep;
  }
  return out;
}

function sampleCounters(
  f: FlatPlan,
  block: number,
  gStart: number,
  gEnd: number,
  u64: BigUint64Array,
  u32: Uint32Array,
  torn: Uint8Array,
  last: Uint32Array,
): StatSample[] {
  // While every sample is the one at the same place in the block's previous list, nothing is
  // allocated: an unchanged block gives its previous (immutable) list again.
  const previous = f.blockOut[block];
  let out: StatSample[] | undefined;
  let n = 0;
  for (let g = gStart; g < gEnd; g++) {
    if (torn[f.groupReadSlot[g]!] === 1) continue;
    const cEnd = f.groupCounters[2 * g + 1]!;
    for (let c = f.groupCounters[2 * g]!; c < cEnd; c++) {
      const at = f.word[c]!;
      const words = f.words[c]!;
      const lastAt = f.lastAt[c]!;
      let s = f.made[c];
      // Unchanged since the last sample: the same (immutable) sample, no BigInt made.
      if (s !== undefined) {
        for (let k = 0; k < words; k++) {
          if (u32[at + k] !== last[lastAt + k]) {
            s = undefined;
            break;
          }
        }
      }
      if (s === undefined) {
        const flags = f.flags[c]!;
        if ((flags & INACTIVE_WHEN_ALL_ONES) !== 0 && allOnes(u32, at, words)) continue;
        s = makeSample(f.counters[c]!, (flags & SCALAR) !== 0, u64, at >>> 1);
        for (let k = 0; k < words; k++) last[lastAt + k] = u32[at + k]!;
        f.made[c] = s;
      }
      if (out === undefined) {
        if (previous !== undefined && previous[n] === s) {
          n++;
          continue;
        }
        out = new Array(f.blockCounters[block]!);
        for (let i = 0; i < n; i++) out[i] = previous![i]!;
      }
      out[n++] = s;
    }
  }
  if (out === undefined) {
    if (previous !== undefined && previous.length === n) return previous;
    out = previous === undefined ? [] : previous.slice(0, n);
  } else if (n < out.length) out.length = n;
  f.blockOut[block] = out;
  return out;
}

function makeSample(c: CounterPlan, scalar: boolean, u64: BigUint64Array, w: number): StatSample {
  const s: StatSample = { name: c.name, kind: c.kind, unit: c.unit, origin: 'vmm', field: c.field, help: c.help };
  if (c.histogram) s.histogram = c.histogram;
  if (scalar) s.value = u64[w]!;
  else {
    const buckets: bigint[] = new Array(c.count);
    for (let i = 0; i < c.count; i++) buckets[i] = u64[w + i]!;
    s.buckets = buckets;
  }
  return s;
}

/** u32 words [at, at + n) all ones. */
function allOnes(u32: Uint32Array, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (u32[i] !== ALL_ONES_32) return false;
  return true;
}
