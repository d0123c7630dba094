/**
 * The page-pool service (DESIGN §5): per domain, pools of 4 KiB pages keyed by (pool, object id,
 * page index), for guests of pool ABI v0 and v1 at the same time.
 *
 * Versions: a pool remembers the version it was created with, which fixes how many id words its
 * calls carry. Every page is keyed by the 192-bit id: a v0 id X is stored as the v1 id (X, 0, 0),
 * so v0 ids are exactly the v1 ids whose upper 128 bits are zero, and nothing in the store
 * depends on the version (a pool shared by a v0 and a v1 guest would need no translation: the v0
 * guest sees the subspace it can name). An id a pool's version cannot name is bad_argument.
 *
 * Memory: every pool holds at most `poolPages`, all pools of the host together `hostPages`.
 * Ephemeral pools make room by evicting their least recently used page (or, at the host limit,
 * the least recently used ephemeral page of any pool); persistent pools never lose an
 * acknowledged page: a put that would need room they do not have is refused (no_resources) and
 * changes nothing. A put over an existing page replaces it and always succeeds.
 *
 * Errors are PoolError with a call-word status, so the dispatcher answers them as defined errors.
 */
import { UsageError } from '../../errors.ts';
import { POOL_FLAG, STATUS } from '../../formats/callword/constants.ts';
import {
  MAX_POOL_ID,
  maxOid,
  OID_ALIGN,
  OID_BYTES,
  oidFromBytes,
  PAGE_BYTES,
  POOL_VERSIONS,
  type PoolCounterValues,
  type PoolVersion,
} from '../../formats/callword/pool.ts';
import type { GroupWriter } from '../../formats/stats-table/writer.ts';
import { PoolCounters } from './counters.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';
import { PageStore } from './page-store.ts';

export class PoolError extends UsageError {
  override readonly name = 'PoolError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface PoolLimits {
  /** Pages all pools of the host hold together (default 16384 = 64 MiB). */
  hostPages: number;
  /** Pages one pool holds at most (default 4096 = 16 MiB). */
  poolPages: number;
  /** Pools one domain may have at once (default 32; at most MAX_POOL_ID). */
  poolsPerDomain: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = { hostPages: 16384, poolPages: 4096, poolsPerDomain: 32 };

export interface PoolInfo {
  poolId: number;
  version: PoolVersion;
  persistent: boolean;
  /** The create flags as the guest passed them. */
  flags: number;
  pages: number;
  slabBytes: number;
}

export interface DomainPoolsOptions {
  /** The domain's memory, for put/get by guest-physical address. */
  memory?: GuestMemoryAccess;
  /** The `pool` group of the domain's stats table (revision ≥ 6), written on every call. */
  statsGroup?: GroupWriter;
}

/** One pool as saved and restored: its id, create flags and pages (least recently used first). */
export interface SavedPool {
  poolId: number;
  flags: number;
  pages: { oid: bigint; index: number; data: Uint8Array }[];
}

interface Pool {
  readonly id: number;
  readonly domain: DomainPools;
  readonly version: PoolVersion;
  readonly persistent: boolean;
  readonly flags: number;
  readonly store: PageStore;
}

interface DomainPools {
  readonly domid: number;
  readonly memory: GuestMemoryAccess | undefined;
  readonly counters: PoolCounters;
  readonly pools: Map<number, Pool>;
  pages: number;
}

export class PoolService {
  readonly limits: PoolLimits;
  readonly #domains = new Map<number, DomainPools>();
  /** Ephemeral pools of every domain: where host-wide eviction looks. */
  readonly #ephemeral = new Set<Pool>();
  #pages = 0;
  #tick = 0;
  /** Counters of domains that are gone, so host totals never go backwards. */
  readonly #retired = new PoolCounters();

  constructor(limits: Partial<PoolLimits> = {}) {
    const l = { ...DEFAULT_POOL_LIMITS, ...limits };
    for (const [name, v] of Object.entries(l)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`pool limit ${name} must be a count: ${v}`);
    }
    if (l.poolsPerDomain > MAX_POOL_ID) throw new RangeError(`poolsPerDomain is at most ${MAX_POOL_ID}`);
    this.limits = l;
  }

  /** Pages held by every pool of the host. */
  get pagesHeld(): number {
    return this.#pages;
  }

  /** Makes a domain known to the service (the host does this at domain creation). */
  attachDomain(domid: number, options: DomainPoolsOptions = {}): void {
    if (this.#domains.has(domid)) throw new RangeError(`domain ${domid} already has pools`);
    this.#domains.set(domid, {
      domid,
      memory: options.memory,
      counters: new PoolCounters(options.statsGroup),
      pools: new Map(),
      pages: 0,
    });
  }

  /** Destroys every pool of the domain and forgets it (before its stats table goes away). */
  detachDomain(domid: number): void {
    const d = this.#domains.get(domid);
    if (!d) return;
    for (const pool of [...d.pools.values()]) this.#drop(pool, false);
    for (const [name, v] of Object.entries(d.counters.values) as [keyof PoolCounterValues, number][]) {
      if (name !== 'pages_held') this.#retired.values[name] += v;
    }
    this.#domains.delete(domid);
  }

  hasDomain(domid: number): boolean {
    return this.#domains.has(domid);
  }

  domids(): number[] {
    return [...this.#domains.keys()].sort((a, b) => a - b);
  }

  /** Creates a pool from the guest's create flags; returns its id (1..MAX_POOL_ID). */
  create(domid: number, flags: number | bigint): number {
    const d = this.#domain(domid);
    const { word, version, persistent } = parseFlags(flags);
    if (d.pools.size >= this.limits.poolsPerDomain) {
      throw new PoolError(STATUS.noResources, `domain ${domid} has ${d.pools.size} pools, the most it may have`);
    }
    let id = 1;
    while (d.pools.has(id)) id++;
    this.#adopt({ id, domain: d, version, persistent, flags: word, store: new PageStore(this.limits.poolPages) });
    return id;
  }

  /**
   * Every pool of a domain with every page, least recently used first, read without touching
   * the LRU order or the counters (a save). The page bytes are views into the pools' slabs:
   * valid until the domain's pools next change.
   */
  snapshotPools(domid: number): SavedPool[] {
    return [...this.#domain(domid).pools.values()]
      .sort((a, b) => a.id - b.id)
      .map((p) => ({
        poolId: p.id,
        flags: p.flags,
        pages: p.store.keys().map(({ oid, index }) => ({ oid, index, data: p.store.page(p.store.find(oid, index)) })),
      }));
  }

  /**
   * Recreates saved pools in a domain that has none (a restore, before the domain runs): same
   * pool ids, flags and pages, the LRU order as listed. All or nothing: every pool is built and
   * checked (ids, flags, keys, duplicates, the pool, domain and host budgets) before any becomes
   * the domain's; on error the domain keeps no pool. Not counted as guest puts.
   */
  restorePools(domid: number, saved: readonly SavedPool[]): void {
    const d = this.#domain(domid);
    if (d.pools.size > 0) throw new PoolError(STATUS.badArgument, `domain ${domid} already has pools`);
    if (saved.length > this.limits.poolsPerDomain) {
      throw new PoolError(STATUS.noResources, `${saved.length} pools: a domain may have ${this.limits.poolsPerDomain}`);
    }
    const built: Pool[] = [];
    let pages = 0;
    for (const s of saved) {
      if (!Number.isInteger(s.poolId) || s.poolId < 1 || s.poolId > MAX_POOL_ID) {
        throw new PoolError(STATUS.badArgument, `pool id ${s.poolId} is not 1..${MAX_POOL_ID}`);
      }
      if (built.some((p) => p.id === s.poolId)) throw new PoolError(STATUS.badArgument, `pool ${s.poolId} twice`);
      const { word, version, persistent } = parseFlags(s.flags);
      if (s.pages.length > this.limits.poolPages) {
        throw new PoolError(
          STATUS.noResources,
          `pool ${s.poolId}: ${s.pages.length} pages, a pool holds ${this.limits.poolPages}`,
        );
      }
      const pool: Pool = {
        id: s.poolId,
        domain: d,
        version,
        persistent,
        flags: word,
        store: new PageStore(this.limits.poolPages),
      };
      for (const page of s.pages) {
        this.#checkKey(pool, page.oid, page.index);
        if (page.data.length !== PAGE_BYTES) throw new PoolError(STATUS.badArgument, `a page is ${PAGE_BYTES} bytes`);
        if (!pool.store.put(page.oid, page.index, page.data, ++this.#tick).added) {
          throw new PoolError(STATUS.badArgument, `pool ${s.poolId}: page ${page.index} of an object twice`);
        }
      }
      pages += pool.store.size;
      built.push(pool);
    }
    if (this.#pages + pages > this.limits.hostPages) {
      throw new PoolError(
        STATUS.noResources,
        `${pages} pages do not fit: the host holds ${this.#pages} of ${this.limits.hostPages}`,
      );
    }
    for (const pool of built) this.#adopt(pool);
    d.pages += pages;
    this.#pages += pages;
    d.counters.record({}, d.pages);
  }

  /** Destroys every pool of a domain without counting flushes (a restore that failed later). */
  dropPools(domid: number): void {
    const d = this.#domain(domid);
    for (const pool of [...d.pools.values()]) this.#drop(pool, false);
    d.counters.record({}, d.pages);
  }

  #adopt(pool: Pool): void {
    pool.domain.pools.set(pool.id, pool);
    if (!pool.persistent) this.#ephemeral.add(pool);
  }

  /** The version of a pool (how many id words its calls carry). */
  version(domid: number, poolId: number): PoolVersion {
    return this.#pool(domid, poolId).version;
  }

  /** Stores a page (4 KiB). Throws PoolError no_resources when a persistent pool has no room. */
  put(domid: number, poolId: number, oid: bigint, index: number, data: Uint8Array): void {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, index);
    if (data.length !== PAGE_BYTES) throw new PoolError(STATUS.badArgument, `a page is ${PAGE_BYTES} bytes`);
    const d = pool.domain;
    const exists = pool.store.find(oid, index) !== -1;
    if (!exists && !this.#makeRoom(pool)) {
      d.counters.record({ puts: 1, refused: 1 });
      throw new PoolError(
        STATUS.noResources,
        `pool ${pool.id} of domain ${domid}: no room for another page (${pool.persistent ? 'persistent pools never evict' : 'nothing left to evict'})`,
      );
    }
    const { added } = pool.store.put(oid, index, data, ++this.#tick);
    if (added) {
      d.pages++;
      this.#pages++;
    }
    d.counters.record({ puts: 1 }, d.pages);
  }

  /** Copies a page out of the pool; undefined on a miss. */
  get(domid: number, poolId: number, oid: bigint, index: number): Uint8Array | undefined {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, index);
    const slot = pool.store.find(oid, index);
    if (slot === -1) {
      pool.domain.counters.record({ gets: 1, misses: 1 });
      return undefined;
    }
    pool.store.touch(slot, ++this.#tick);
    pool.domain.counters.record({ gets: 1, hits: 1 });
    return Uint8Array.from(pool.store.page(slot));
  }

  /** put() of the page at guest-physical `gpa` of the calling domain. */
  putFromGuest(domid: number, poolId: number, oid: bigint, index: number, gpa: bigint): void {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, index);
    const memory = this.#memory(pool.domain);
    const at = checkedGpa(pool.domain, gpa);
    this.put(
      domid,
      poolId,
      oid,
      index,
      guestAccess(pool.domain, () => memory.read(at, PAGE_BYTES)),
    );
  }

  /** get() into the page at guest-physical `gpa`; returns whether it hit (a miss leaves the page alone). */
  getToGuest(domid: number, poolId: number, oid: bigint, index: number, gpa: bigint): boolean {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, index);
    const memory = this.#memory(pool.domain);
    const at = checkedGpa(pool.domain, gpa);
    const slot = pool.store.find(oid, index);
    if (slot === -1) {
      pool.domain.counters.record({ gets: 1, misses: 1 });
      return false;
    }
    guestAccess(pool.domain, () => memory.write(at, pool.store.page(slot)));
    pool.store.touch(slot, ++this.#tick);
    pool.domain.counters.record({ gets: 1, hits: 1 });
    return true;
  }

  /**
   * An object id passed by reference (pool ABI v1): the OID_BYTES little-endian bytes at
   * guest-physical `gpa` of the calling domain, copied out exactly once — what the call keys by is
   * that one copy, whatever another vCPU writes there meanwhile. bad_argument when `gpa` is not
   * OID_ALIGN aligned or the bytes are not all inside guest memory; not_supported when the host
   * cannot reach the domain's memory.
   */
  oidFromGuest(domid: number, poolId: number, gpa: bigint): bigint {
    const pool = this.#pool(domid, poolId);
    const memory = this.#memory(pool.domain);
    if (gpa < 0n || gpa % BigInt(OID_ALIGN) !== 0n) {
      throw new PoolError(
        STATUS.badArgument,
        `domain ${domid}: object id address 0x${gpa.toString(16)} is not ${OID_ALIGN}-byte aligned`,
      );
    }
    const bytes = guestAccess(pool.domain, () => memory.read(gpa, OID_BYTES));
    return oidFromBytes(bytes);
  }

  /** Removes one page; returns whether it was there. */
  flushPage(domid: number, poolId: number, oid: bigint, index: number): boolean {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, index);
    const removed = pool.store.remove(oid, index);
    if (removed) this.#removed(pool, 1);
    pool.domain.counters.record({ flushes: removed ? 1 : 0 }, pool.domain.pages);
    return removed;
  }

  /** Removes every page of an object; returns how many. */
  flushObject(domid: number, poolId: number, oid: bigint): number {
    const pool = this.#pool(domid, poolId);
    this.#checkKey(pool, oid, 0);
    const n = pool.store.removeObject(oid);
    this.#removed(pool, n);
    pool.domain.counters.record({ flushes: n }, pool.domain.pages);
    return n;
  }

  /** Destroys a pool and its pages; returns how many pages it held. The id is free again. */
  destroy(domid: number, poolId: number): number {
    return this.#drop(this.#pool(domid, poolId), true);
  }

  /** The pools of a domain, by id. */
  pools(domid: number): PoolInfo[] {
    return [...this.#domain(domid).pools.values()]
      .sort((a, b) => a.id - b.id)
      .map((p) => ({
        poolId: p.id,
        version: p.version,
        persistent: p.persistent,
        flags: p.flags,
        pages: p.store.size,
        slabBytes: p.store.slabBytes,
      }));
  }

  /** Every page key of a pool, least recently used first (for save and inspection). */
  keys(domid: number, poolId: number): { oid: bigint; index: number }[] {
    return this.#pool(domid, poolId).store.keys();
  }

  /** Counters of one domain, or of the whole host (every domain, living or gone) with domid 0. */
  counters(domid: number): PoolCounterValues {
    if (domid !== 0) return { ...this.#domain(domid).counters.values };
    const total = { ...this.#retired.values };
    for (const d of this.#domains.values()) {
      for (const [name, v] of Object.entries(d.counters.values) as [keyof PoolCounterValues, number][]) {
        total[name] += v;
      }
    }
    total.pages_held = this.#pages;
    return total;
  }

  /**
   * Room for one more page in `pool`: evicts (ephemeral only) within the pool when it is at its
   * budget, then host-wide at the host's. False = the put must be refused.
   */
  #makeRoom(pool: Pool): boolean {
    if (pool.store.full) {
      if (pool.persistent || pool.store.size === 0) return false;
      this.#evictFrom(pool);
    }
    while (this.#pages >= this.limits.hostPages) {
      let victim: Pool | undefined;
      for (const p of this.#ephemeral)
        if (p.store.size > 0 && (!victim || p.store.oldestTick < victim.store.oldestTick)) victim = p;
      if (!victim) return false;
      this.#evictFrom(victim);
    }
    return true;
  }

  #evictFrom(pool: Pool): void {
    if (pool.store.evictOldest() === undefined) return;
    this.#removed(pool, 1);
    pool.domain.counters.record({ evictions: 1 }, pool.domain.pages);
  }

  #removed(pool: Pool, n: number): void {
    pool.domain.pages -= n;
    this.#pages -= n;
  }

  #drop(pool: Pool, count: boolean): number {
    const n = pool.store.size;
    pool.store.clear();
    this.#removed(pool, n);
    pool.domain.pools.delete(pool.id);
    this.#ephemeral.delete(pool);
    if (count) pool.domain.counters.record({ flushes: n }, pool.domain.pages);
    return n;
  }

  #domain(domid: number): DomainPools {
    const d = this.#domains.get(domid);
    if (!d) throw new PoolError(STATUS.noSuchDomain, `domain ${domid} has no pools`);
    return d;
  }

  #pool(domid: number, poolId: number): Pool {
    const pool = this.#domain(domid).pools.get(poolId);
    if (!pool) throw new PoolError(STATUS.badArgument, `domain ${domid} has no pool ${poolId}`);
    return pool;
  }

  #memory(d: DomainPools): GuestMemoryAccess {
    if (!d.memory)
      throw new PoolError(STATUS.notSupported, `domain ${d.domid}: guest memory is not reachable by the host`);
    return d.memory;
  }

  #checkKey(pool: Pool, oid: bigint, index: number): void {
    if (oid < 0n || oid > maxOid(pool.version)) {
      throw new PoolError(STATUS.badArgument, `object id does not fit pool ABI v${pool.version}`);
    }
    if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) {
      throw new PoolError(STATUS.badArgument, `page index must be a u32: ${index}`);
    }
  }
}

/** The create flags word, checked: bad_argument for bits above 31 or reserved bits, not_supported for a version. */
function parseFlags(flags: number | bigint): { word: number; version: PoolVersion; persistent: boolean } {
  const f = BigInt(flags);
  if (f < 0n || f > 0xffff_ffffn) throw new PoolError(STATUS.badArgument, 'create flags are a u32');
  const word = Number(f);
  if ((word & POOL_FLAG.reservedMask) !== 0) {
    throw new PoolError(
      STATUS.badArgument,
      `reserved create flag bits set: 0x${(word & POOL_FLAG.reservedMask).toString(16)}`,
    );
  }
  const version = word >>> POOL_FLAG.versionShift;
  if (!(POOL_VERSIONS as readonly number[]).includes(version)) {
    throw new PoolError(STATUS.notSupported, `pool ABI version ${version} is not supported (this host serves 0, 1)`);
  }
  return { word, version: version as PoolVersion, persistent: (word & POOL_FLAG.persistent) !== 0 };
}

function checkedGpa(d: DomainPools, gpa: bigint): bigint {
  if (gpa < 0n || gpa % BigInt(PAGE_BYTES) !== 0n) {
    throw new PoolError(
      STATUS.badArgument,
      `domain ${d.domid}: page address 0x${gpa.toString(16)} is not page aligned`,
    );
  }
  return gpa;
}

/** A guest memory access outside the domain's memory is the guest's bad argument, not a host failure. */
function guestAccess<T>(d: DomainPools, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) throw new PoolError(STATUS.badArgument, `domain ${d.domid}: ${e.message}`);
    throw e;
  }
}
