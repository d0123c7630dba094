/**
 * The pool family (0x04) on the dispatcher: guests create pools and put/get/flush pages through
 * hypercalls (arguments laid out for 32-bit guests, see abi.ts); tools read the counters.
 * put and both flushes honour "may be queued": their answers carry nothing the guest needs
 * before its next call on the same key (a batch runs in order), so they may be deferred.
 * A v1 page call names its 192-bit object id by reference (abi.ts): the id is read from guest
 * memory once, before the page is copied, and every later step uses that one copy.
 */

import { type CallOutcome, type Dispatcher, fail, type HandlerContext, ok } from '../../calls/dispatcher.ts';
import { FAMILY, POOL_CALL, STATUS } from '../../formats/callword/constants.ts';
import {
  MAX_POOL_ID,
  OID_BY_REFERENCE,
  OID_WORDS,
  oidFromWords,
  PAGE_SHIFT,
  POOL_COUNTERS,
} from '../../formats/callword/pool.ts';
import { PoolError, type PoolService } from './service.ts';

const U32 = 0xffff_ffffn;
/** Argument registers of a hypercall (EBX..EDI) and of a batch entry: what a page call reads. */
const CALL_ARGS = 5;

/** Registers every pool call on `dispatcher`; returns a function that removes them. */
export function registerPoolCalls(dispatcher: Dispatcher, service: PoolService): () => void {
  // Guest calls act on the calling domain's pools (the dispatcher lets only guests make them).
  const guest =
    (fn: (domid: number, args: readonly bigint[]) => CallOutcome) => (args: readonly bigint[], ctx: HandlerContext) => {
      const caller = ctx.caller;
      return caller.kind === 'guest' ? answer(() => fn(caller.domid, args)) : fail(STATUS.notPermitted);
    };
  const tool = (fn: (args: readonly bigint[]) => CallOutcome) => (args: readonly bigint[]) => answer(() => fn(args));
  const removers = [
    dispatcher.register(FAMILY.pool, POOL_CALL.create, {
      name: 'pool.create',
      nargs: 1,
      callers: ['guest'],
      handler: guest((domid, [flags]) => ok(BigInt(service.create(domid, flags!)))),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.put, {
      name: 'pool.put',
      nargs: CALL_ARGS,
      queueable: true,
      callers: ['guest'],
      handler: guest((domid, args) => {
        const { poolId, gpa } = poolPage(args[0]!);
        const { oid, index } = key(service, domid, poolId, args, 1);
        service.putFromGuest(domid, poolId, oid, index, gpa);
        return ok();
      }),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.get, {
      name: 'pool.get',
      nargs: CALL_ARGS,
      callers: ['guest'],
      handler: guest((domid, args) => {
        const { poolId, gpa } = poolPage(args[0]!);
        const { oid, index } = key(service, domid, poolId, args, 1);
        return ok(service.getToGuest(domid, poolId, oid, index, gpa) ? 1n : 0n);
      }),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.flushPage, {
      name: 'pool.flush_page',
      nargs: CALL_ARGS,
      queueable: true,
      callers: ['guest'],
      handler: guest((domid, args) => {
        const poolId = poolOnly(args[0]!);
        const { oid, index } = key(service, domid, poolId, args, 1);
        return ok(service.flushPage(domid, poolId, oid, index) ? 1n : 0n);
      }),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.flushObject, {
      name: 'pool.flush_object',
      nargs: CALL_ARGS,
      queueable: true,
      callers: ['guest'],
      handler: guest((domid, args) => {
        const poolId = poolOnly(args[0]!);
        return ok(BigInt(service.flushObject(domid, poolId, objectId(service, domid, poolId, args, 1))));
      }),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.destroy, {
      name: 'pool.destroy',
      nargs: 1,
      callers: ['guest'],
      handler: guest((domid, [pool]) => ok(BigInt(service.destroy(domid, poolOnly(pool!))))),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.stats, {
      name: 'pool.stats',
      nargs: 1,
      callers: ['tool'],
      handler: tool(([domid]) => {
        const c = service.counters(domidArg(domid!));
        const pools = domid === 0n ? BigInt(service.domids().length) : BigInt(service.pools(Number(domid)).length);
        return ok(...POOL_COUNTERS.map((n) => BigInt(c[n])), pools);
      }),
    }),
    dispatcher.register(FAMILY.pool, POOL_CALL.poolInfo, {
      name: 'pool.pool_info',
      nargs: 2,
      callers: ['tool'],
      handler: tool(([domid, position]) => {
        const pools = service.pools(domidArg(domid!));
        const p = position! < BigInt(pools.length) ? pools[Number(position)] : undefined;
        if (!p) return fail(STATUS.badArgument);
        return ok(BigInt(p.poolId), BigInt(p.flags), BigInt(p.pages), BigInt(p.slabBytes));
      }),
    }),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}

/** What `stats` answers, in order (then the number of pools, or of domains for domid 0). */
export const POOL_STATS_VALUES = [...POOL_COUNTERS, 'pools'] as const;

function answer(fn: () => CallOutcome): CallOutcome {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PoolError) return fail(e.status);
    throw e;
  }
}

/** pool_page: pool id in bits 0..11, guest page frame above. */
function poolPage(word: bigint): { poolId: number; gpa: bigint } {
  return { poolId: Number(word & BigInt(MAX_POOL_ID)), gpa: (word >> BigInt(PAGE_SHIFT)) << BigInt(PAGE_SHIFT) };
}

/** A flush names no page: the page bits of its first argument must be zero. */
function poolOnly(word: bigint): number {
  if (word > BigInt(MAX_POOL_ID)) throw new PoolError(STATUS.badArgument, 'a flush or destroy takes only a pool id');
  return Number(word);
}

/** [index, object id] at args[at…]. */
function key(
  service: PoolService,
  domid: number,
  poolId: number,
  args: readonly bigint[],
  at: number,
): { oid: bigint; index: number } {
  const [index] = u32s([args[at]!]);
  return { index: Number(index), oid: objectId(service, domid, poolId, args, at + 1) };
}

/**
 * The object id at args[at…]: v0's two id words from registers; v1's oid_gpa, the id by
 * reference (copied once from guest memory). A v1 call's registers after oid_gpa must be zero,
 * so a guest still passing id words in registers is refused rather than misread.
 */
function objectId(service: PoolService, domid: number, poolId: number, args: readonly bigint[], at: number): bigint {
  const version = service.version(domid, poolId);
  if (!OID_BY_REFERENCE[version]) return oidFromWords(u32s(args.slice(at, at + OID_WORDS[version])));
  const [gpa] = u32s([args[at]!]);
  if (args.slice(at + 1).some((a) => a !== 0n)) {
    throw new PoolError(
      STATUS.badArgument,
      'a v1 call passes its object id by reference: later arguments must be zero',
    );
  }
  return service.oidFromGuest(domid, poolId, gpa!);
}

/** Arguments from a 32-bit guest are u32 register values: anything wider is a bad argument. */
function u32s(args: readonly bigint[]): bigint[] {
  for (const a of args)
    if (a > U32) throw new PoolError(STATUS.badArgument, 'a 32-bit argument word is wider than 32 bits');
  return [...args];
}

function domidArg(domid: bigint): number {
  if (domid > 0x7fffn) throw new PoolError(STATUS.badArgument, `no domid ${domid}`);
  return Number(domid);
}
