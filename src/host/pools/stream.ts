/**
 * The page pools of a domain in save, restore and migration streams: the PoolStreamHooks of
 * src/host/migration, over one PoolService. The stream carries the bytes below as its optional
 * POOLS record, tagged with POOL_SNAPSHOT_FORMAT (the record's own format field: the bytes have
 * no header of their own).
 *
 * Format 1, little-endian, no padding:
 *   u32 pool_count
 *   per pool:
 *     u32 pool_id      1..MAX_POOL_ID, strictly ascending — kept on restore, so the pool handles
 *                      the guest saved stay valid
 *     u32 flags        the pool's create flags: ABI version (bits 24..31, 0 or 1) + persistent
 *                      (bit 0); reserved bits zero
 *     u32 page_count
 *     per page (least recently used first, which restore keeps):
 *       24 bytes oid   the 192-bit object id, least significant byte first (a v0 id has its
 *                      upper 16 bytes zero)
 *       u32 index
 *       4096 bytes     the page
 *
 * Ephemeral pools are saved with their pages too: dropping them would be allowed (a guest must
 * expect an ephemeral miss) but keeping them costs nothing more than the persistent ones and the
 * restored guest keeps its cache.
 *
 * The encoding is canonical (ascending ids, each page key once, v0 ids within 64 bits): bytes a
 * restore accepts are exactly the bytes a snapshot of the restored domain gives back.
 *
 * Decoding treats the bytes as hostile: every read is bounds-checked, every count is checked
 * against the bytes left before anything is allocated for it, and every rule broken is a
 * FormatError naming the field and the rule. Restore decodes and checks everything first, then
 * hands the pools to the service, which creates all of them or none.
 */
import { FormatError, UsageError } from '../../errors.ts';
import { POOL_FLAG, STATUS } from '../../formats/callword/constants.ts';
import {
  MAX_POOL_ID,
  maxOid,
  OID_BYTES,
  oidFromBytes,
  oidToBytes,
  PAGE_BYTES,
  POOL_VERSIONS,
} from '../../formats/callword/pool.ts';
import type { PoolStreamHooks } from '../migration/hooks.ts';
import { PoolError, type PoolService, type SavedPool } from './service.ts';

/** The snapshot format this module writes and the only one it reads. */
export const POOL_SNAPSHOT_FORMAT = 1;

const FORMAT_NAME = 'pool-snapshot';
const COUNT_BYTES = 4;
const POOL_HEAD_BYTES = 12;
const PAGE_RECORD_BYTES = OID_BYTES + 4 + PAGE_BYTES;

/** The stream hooks of `service`: pass them as `pools` to streamInstaller, saveDomain, restoreDomain, migrate. */
export function poolStreamHooks(service: PoolService): PoolStreamHooks {
  return {
    format: POOL_SNAPSHOT_FORMAT,
    snapshot(domid) {
      if (!service.hasDomain(domid)) return undefined;
      const pools = service.snapshotPools(domid);
      return pools.length === 0 ? undefined : encodePoolSnapshot(pools);
    },
    validate(format, data) {
      checkFits(service, decodeFormat(format, data));
    },
    restore(domid, format, data) {
      const pools = decodeFormat(format, data);
      if (!service.hasDomain(domid)) throw new UsageError(`domain ${domid} is not known to the pool service`);
      service.restorePools(domid, pools);
    },
    discard(domid) {
      if (service.hasDomain(domid)) service.dropPools(domid);
    },
  };
}

function decodeFormat(format: number, data: Uint8Array): SavedPool[] {
  if (format !== POOL_SNAPSHOT_FORMAT) {
    throw new FormatError(
      FORMAT_NAME,
      'format',
      'unknown-format',
      `this host reads pool snapshot format ${POOL_SNAPSHOT_FORMAT} only`,
      String(format),
    );
  }
  return decodePoolSnapshot(data);
}

/**
 * The budgets PoolService.restorePools enforces (pools per domain, pages per pool, pages of the
 * host as it is now), checked on decoded pools without creating anything. The other rules
 * restorePools applies (ids, flags, key ranges, duplicates) decodePoolSnapshot already checked.
 */
function checkFits(service: PoolService, pools: readonly SavedPool[]): void {
  const { poolsPerDomain, poolPages, hostPages } = service.limits;
  if (pools.length > poolsPerDomain) {
    throw new PoolError(STATUS.noResources, `${pools.length} pools: a domain may have ${poolsPerDomain}`);
  }
  let pages = 0;
  for (const p of pools) {
    if (p.pages.length > poolPages) {
      throw new PoolError(STATUS.noResources, `pool ${p.poolId}: ${p.pages.length} pages, a pool holds ${poolPages}`);
    }
    pages += p.pages.length;
  }
  if (service.pagesHeld + pages > hostPages) {
    throw new PoolError(
      STATUS.noResources,
      `${pages} pages do not fit: the host holds ${service.pagesHeld} of ${hostPages}`,
    );
  }
}

/** The format-1 bytes of a domain's pools (as PoolService.snapshotPools lists them). */
export function encodePoolSnapshot(pools: readonly SavedPool[]): Uint8Array {
  let size = COUNT_BYTES;
  for (const p of pools) size += POOL_HEAD_BYTES + p.pages.length * PAGE_RECORD_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, pools.length, true);
  let at = COUNT_BYTES;
  for (const p of pools) {
    view.setUint32(at, p.poolId, true);
    view.setUint32(at + 4, p.flags, true);
    view.setUint32(at + 8, p.pages.length, true);
    at += POOL_HEAD_BYTES;
    for (const page of p.pages) {
      out.set(oidToBytes(page.oid), at);
      view.setUint32(at + OID_BYTES, page.index, true);
      out.set(page.data, at + OID_BYTES + 4);
      at += PAGE_RECORD_BYTES;
    }
  }
  return out;
}

/**
 * Reads and checks format-1 bytes completely. The pages are views into `data` (the service
 * copies them into its own slabs). Throws FormatError on the first rule broken.
 */
export function decodePoolSnapshot(data: Uint8Array): SavedPool[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const u32 = (field: string): number => {
    if (data.length - at < 4) fail(field, 'truncated', `needs 4 bytes at offset ${at}, ${data.length - at} left`);
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const count = u32('pool_count');
  if (count > MAX_POOL_ID) fail('pool_count', 'too-many-pools', `a domain has at most ${MAX_POOL_ID} pools`, count);
  if (count * POOL_HEAD_BYTES > data.length - at) {
    fail('pool_count', 'count-exceeds-data', `${count} pools need more than the ${data.length - at} bytes left`, count);
  }
  const pools: SavedPool[] = [];
  let lastId = 0;
  for (let i = 0; i < count; i++) {
    const where = `pool[${i}]`;
    const poolId = u32(`${where}.pool_id`);
    if (poolId < 1 || poolId > MAX_POOL_ID) fail(`${where}.pool_id`, 'pool-id-range', `is 1..${MAX_POOL_ID}`, poolId);
    if (poolId <= lastId)
      fail(`${where}.pool_id`, 'pool-id-order', 'pools are saved once each, by ascending id', poolId);
    lastId = poolId;
    const flags = u32(`${where}.flags`);
    if ((flags & POOL_FLAG.reservedMask) !== 0) {
      fail(`${where}.flags`, 'reserved-bits', 'reserved flag bits must be zero', hex(flags));
    }
    const version = flags >>> POOL_FLAG.versionShift;
    if (!(POOL_VERSIONS as readonly number[]).includes(version)) {
      fail(`${where}.flags`, 'unknown-version', `pool ABI version ${version} is not 0 or 1`, hex(flags));
    }
    const limit = maxOid(version as (typeof POOL_VERSIONS)[number]);
    const pageCount = u32(`${where}.page_count`);
    if (pageCount * PAGE_RECORD_BYTES > data.length - at) {
      fail(
        `${where}.page_count`,
        'count-exceeds-data',
        `${pageCount} pages need more than the ${data.length - at} bytes left`,
        pageCount,
      );
    }
    const pages: SavedPool['pages'] = [];
    const keys = new Set<string>();
    for (let j = 0; j < pageCount; j++) {
      const page = `${where}.page[${j}]`;
      // The count check above guarantees the whole page record is there.
      const oid = oidFromBytes(data.subarray(at, at + OID_BYTES));
      if (oid > limit) fail(`${page}.oid`, 'oid-range', `does not fit a v${version} pool`, hex(oid));
      const index = view.getUint32(at + OID_BYTES, true);
      const key = `${oid.toString(16)}:${index}`;
      if (keys.has(key)) fail(`${page}.index`, 'duplicate-page', 'each (oid, index) is saved once per pool', index);
      keys.add(key);
      pages.push({ oid, index, data: data.subarray(at + OID_BYTES + 4, at + PAGE_RECORD_BYTES) });
      at += PAGE_RECORD_BYTES;
    }
    pools.push({ poolId, flags, pages });
  }
  if (at !== data.length)
    fail('end', 'trailing-bytes', `${data.length - at} bytes after the last pool`, data.length - at);
  return pools;
}

function fail(field: string, rule: string, message: string, value?: number | bigint | string): never {
  throw new FormatError(FORMAT_NAME, field, rule, message, value === undefined ? undefined : String(value));
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
