/** Tool-side pool calls over any ctl Caller (a CtlClient, or a test's in-process adapter). */

import { FAMILY, POOL_CALL, POOL_FLAG } from '../formats/callword/constants.ts';
import { POOL_COUNTERS, type PoolCounterValues, type PoolVersion } from '../formats/callword/pool.ts';
import { callWord } from '../formats/callword/word.ts';
import { type Caller, mustCall } from './api.ts';

export interface PoolStats {
  domid: number;
  counters: PoolCounterValues;
  /** Pools of the domain; for domid 0 (the host), the number of domains with pools. */
  pools: number;
}

export interface PoolListing {
  poolId: number;
  version: PoolVersion;
  persistent: boolean;
  pages: number;
  slabBytes: number;
}

/** Counters of one domain's pools, or of the whole host with domid 0. */
export async function poolStats(c: Caller, domid: number): Promise<PoolStats> {
  const v = await mustCall(c, callWord(FAMILY.pool, POOL_CALL.stats), [BigInt(domid)]);
  const counters = Object.fromEntries(POOL_COUNTERS.map((n, i) => [n, Number(v[i] ?? 0n)])) as PoolCounterValues;
  return { domid, counters, pools: Number(v[POOL_COUNTERS.length] ?? 0n) };
}

/** Every pool of a domain. */
export async function poolList(c: Caller, domid: number): Promise<PoolListing[]> {
  const { pools } = await poolStats(c, domid);
  const out: PoolListing[] = [];
  for (let i = 0; i < pools; i++) {
    const [id, flags, pages, slab] = await mustCall(c, callWord(FAMILY.pool, POOL_CALL.poolInfo), [
      BigInt(domid),
      BigInt(i),
    ]);
    const f = Number(flags ?? 0n);
    out.push({
      poolId: Number(id),
      version: (f >>> POOL_FLAG.versionShift) as PoolVersion,
      persistent: (f & POOL_FLAG.persistent) !== 0,
      pages: Number(pages ?? 0n),
      slabBytes: Number(slab ?? 0n),
    });
  }
  return out;
}
