/**
 * The pages of one pool: one Buffer slab holding every page back to back, an index map
 * (object id → page index → slot) and an intrusive LRU list in typed arrays.
 *
 * Why this shape: a pool may hold thousands of 4 KiB pages. One slab means one allocation that
 * grows by doubling (up to the pool's budget), no per-page Buffer or object for the garbage
 * collector to trace, and page copies that are plain memcpy between the slab and guest memory.
 * The per-slot bookkeeping (LRU links, last-use tick, and the slot's own key for eviction) lives
 * in typed arrays next to the slab, so the only JS objects are the index maps: one Map per
 * object id, whose entries are small integers.
 */
import { PAGE_BYTES } from '../../formats/callword/pool.ts';

/** u32 words of a slot's key in `#keys`: 6 object id words + the page index. */
const KEY_WORDS = 7;
const NONE = -1;
const FIRST_CAPACITY = 8;

export interface PageKey {
  oid: bigint;
  index: number;
}

export class PageStore {
  /** Most pages this store may ever hold (its slab never grows past it). */
  readonly maxPages: number;
  #capacity = 0;
  #slab: Buffer = Buffer.alloc(0);
  #keys = new Uint32Array(0);
  #prev = new Int32Array(0);
  #next = new Int32Array(0);
  /** Last use of each slot (a host-wide tick): lets the service compare the LRU tails of pools. */
  #tick = new Float64Array(0);
  /** Free slots below #capacity, used as a stack. */
  #free: number[] = [];
  #objects = new Map<bigint, Map<number, number>>();
  #size = 0;
  /** Most recently used slot, and least recently used. */
  #head = NONE;
  #tail = NONE;

  constructor(maxPages: number) {
    if (!Number.isSafeInteger(maxPages) || maxPages < 0) throw new RangeError(`bad page budget: ${maxPages}`);
    this.maxPages = maxPages;
  }

  /** Pages held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the slab (what the pool costs in host memory, bookkeeping aside). */
  get slabBytes(): number {
    return this.#slab.length;
  }

  get full(): boolean {
    return this.#size >= this.maxPages;
  }

  /** Tick of the least recently used page; Infinity when empty. */
  get oldestTick(): number {
    return this.#tail === NONE ? Number.POSITIVE_INFINITY : this.#tick[this.#tail]!;
  }

  /** The slot holding (oid, index), or -1. */
  find(oid: bigint, index: number): number {
    return this.#objects.get(oid)?.get(index) ?? NONE;
  }

  /** The page in `slot` (a view into the slab: copy it before the store changes). */
  page(slot: number): Buffer {
    return this.#slab.subarray(slot * PAGE_BYTES, (slot + 1) * PAGE_BYTES);
  }

  /** Marks `slot` most recently used at `tick`. */
  touch(slot: number, tick: number): void {
    this.#tick[slot] = tick;
    if (this.#head === slot) return;
    this.#unlink(slot);
    this.#linkHead(slot);
  }

  /**
   * Stores a page under (oid, index): overwrites the page already there, else takes a new slot.
   * The caller makes room first: a new page when the store is full throws.
   */
  put(oid: bigint, index: number, data: Uint8Array, tick: number): { slot: number; added: boolean } {
    if (data.length !== PAGE_BYTES) throw new RangeError(`a page is ${PAGE_BYTES} bytes, not ${data.length}`);
    let slot = this.find(oid, index);
    const added = slot === NONE;
    if (added) {
      if (this.full) throw new RangeError('page store is full');
      slot = this.#allocate();
      let object = this.#objects.get(oid);
      if (!object) {
        object = new Map();
        this.#objects.set(oid, object);
      }
      object.set(index, slot);
      this.#writeKey(slot, oid, index);
      this.#size++;
      this.#linkHead(slot);
      this.#tick[slot] = tick;
    } else this.touch(slot, tick);
    this.#slab.set(data, slot * PAGE_BYTES);
    return { slot, added };
  }

  /** Removes (oid, index); returns whether it was there. */
  remove(oid: bigint, index: number): boolean {
    const object = this.#objects.get(oid);
    const slot = object?.get(index);
    if (object === undefined || slot === undefined) return false;
    object.delete(index);
    if (object.size === 0) this.#objects.delete(oid);
    this.#release(slot);
    return true;
  }

  /** Removes every page of an object; returns how many. */
  removeObject(oid: bigint): number {
    const object = this.#objects.get(oid);
    if (!object) return 0;
    this.#objects.delete(oid);
    for (const slot of object.values()) this.#release(slot);
    return object.size;
  }

  /** Drops the least recently used page; returns its key, or undefined when empty. */
  evictOldest(): PageKey | undefined {
    if (this.#tail === NONE) return undefined;
    const key = this.#readKey(this.#tail);
    this.remove(key.oid, key.index);
    return key;
  }

  /** Every page's key, least recently used first (for save/inspection; allocates). */
  keys(): PageKey[] {
    const out: PageKey[] = [];
    for (let s = this.#tail; s !== NONE; s = this.#prev[s]!) out.push(this.#readKey(s));
    return out;
  }

  /** Frees the slab and every index. */
  clear(): void {
    this.#capacity = 0;
    this.#slab = Buffer.alloc(0);
    this.#keys = new Uint32Array(0);
    this.#prev = new Int32Array(0);
    this.#next = new Int32Array(0);
    this.#tick = new Float64Array(0);
    this.#free = [];
    this.#objects.clear();
    this.#size = 0;
    this.#head = NONE;
    this.#tail = NONE;
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#size >= this.#capacity) this.#grow();
    // Slots are handed out in order; every slot below #size + free.length is taken or free.
    return this.#size;
  }

  /** Doubles the capacity (at most maxPages); slots keep their numbers. */
  #grow(): void {
    const capacity = Math.min(this.maxPages, Math.max(FIRST_CAPACITY, this.#capacity * 2));
    const slab = Buffer.allocUnsafe(capacity * PAGE_BYTES);
    this.#slab.copy(slab, 0, 0, this.#capacity * PAGE_BYTES);
    this.#slab = slab;
    this.#keys = grown(this.#keys, new Uint32Array(capacity * KEY_WORDS));
    this.#prev = grown(this.#prev, new Int32Array(capacity));
    this.#next = grown(this.#next, new Int32Array(capacity));
    this.#tick = grown(this.#tick, new Float64Array(capacity));
    this.#capacity = capacity;
  }

  #release(slot: number): void {
    this.#unlink(slot);
    this.#size--;
    // Freed page bytes are overwritten by the next put of the slot before anyone reads them.
    this.#free.push(slot);
  }

  #linkHead(slot: number): void {
    this.#prev[slot] = NONE;
    this.#next[slot] = this.#head;
    if (this.#head !== NONE) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail === NONE) this.#tail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p === NONE) this.#head = n;
    else this.#next[p] = n;
    if (n === NONE) this.#tail = p;
    else this.#prev[n] = p;
    this.#prev[slot] = NONE;
    this.#next[slot] = NONE;
  }

  #writeKey(slot: number, oid: bigint, index: number): void {
    const at = slot * KEY_WORDS;
    let rest = oid;
    for (let i = 0; i < 6; i++) {
      this.#keys[at + i] = Number(rest & 0xffff_ffffn);
      rest >>= 32n;
    }
    this.#keys[at + 6] = index;
  }

  #readKey(slot: number): PageKey {
    const at = slot * KEY_WORDS;
    let oid = 0n;
    for (let i = 5; i >= 0; i--) oid = (oid << 32n) | BigInt(this.#keys[at + i]!);
    return { oid, index: this.#keys[at + 6]! };
  }
}

function grown<T extends Uint32Array | Int32Array | Float64Array>(old: T, bigger: T): T {
  bigger.set(old as never);
  return bigger;
}
