/**
 * The call families a full hvkit host serves beyond core, domain and lifecycle (which
 * createHostDispatcher always installs): one list, used by `hvkit host` and by `hvkit demo`, so
 * every host answers the same call words — from its guests and from tools alike.
 */

import { registerExperimentalCalls } from '../calls/experimental.ts';
import { registerBatchCalls } from '../vmm/guest-calls.ts';
import type { CallInstaller } from './calls-host.ts';
import { streamInstaller } from './migration/install.ts';
import { fromVmmMemory } from './pools/guest-memory.ts';
import { poolCallInstaller } from './pools/host-binding.ts';
import { PoolService } from './pools/service.ts';
import { poolStreamHooks } from './pools/stream.ts';

/** Batches (core family) and the side-effect-free experimental calls guests batch. */
const guestCallInstaller: CallInstaller = (dispatcher) => {
  const unregisterBatch = registerBatchCalls(dispatcher);
  const unregisterExperimental = registerExperimentalCalls(dispatcher);
  return () => {
    unregisterBatch();
    unregisterExperimental();
  };
};

export interface ServiceOptions {
  /** Also accept incoming migrations on this unix socket path or HOST:PORT. */
  listen?: string;
  /** Each wait on a migration peer, in ms (default 10 s). */
  peerTimeoutMs?: number;
  /** How long a destination may take to verify a stream this host sends, in ms (default 60 s). */
  verifyTimeoutMs?: number;
}

export function standardInstallers(options: ServiceOptions = {}): CallInstaller[] {
  const pools = new PoolService();
  return [
    guestCallInstaller,
    poolCallInstaller(pools, {
      memoryOf: (domain, host) => {
        const memory = host.guestMemory(domain.domid);
        return memory ? fromVmmMemory(memory) : undefined;
      },
    }),
    // Saved, restored and migrated domains carry their pools: the same service on both sides.
    streamInstaller({
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      ...(options.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: options.peerTimeoutMs }),
      ...(options.verifyTimeoutMs === undefined ? {} : { verifyTimeoutMs: options.verifyTimeoutMs }),
      pools: poolStreamHooks(pools),
    }),
  ];
}
