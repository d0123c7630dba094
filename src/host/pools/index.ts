export { POOL_STATS_VALUES, registerPoolCalls } from './calls.ts';
export { POOL_GROUP, PoolCounters } from './counters.ts';
export { ArrayGuestMemory, fromVmmMemory, type GuestMemoryAccess, type VmmGuestMemory } from './guest-memory.ts';
export { type PageKey, PageStore } from './page-store.ts';
export {
  DEFAULT_POOL_LIMITS,
  type DomainPoolsOptions,
  PoolError,
  type PoolInfo,
  type PoolLimits,
  PoolService,
  type SavedPool,
} from './service.ts';
export { decodePoolSnapshot, encodePoolSnapshot, POOL_SNAPSHOT_FORMAT, poolStreamHooks } from './stream.ts';
