/**
 * Plugs a PoolService into a running Host and its dispatcher (a CallInstaller for
 * createHostDispatcher): every domain gets pools when it is created and loses them when it
 * starts dying. The pool counters go to the domain's `pool` group through the host's own
 * writer of the stats table (Host.statsGroup): nothing else writes that group (the vCPU workers
 * write only their vCPU blocks), so it has exactly one writer.
 */
import type { CallInstaller } from '../calls-host.ts';
import type { DomainInfo, Host } from '../host.ts';
import { registerPoolCalls } from './calls.ts';
import { POOL_GROUP } from './counters.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';
import type { PoolService } from './service.ts';

export interface PoolBindingOptions {
  /**
   * The guest memory of a domain, as the VMM maps it in the host thread; undefined = not
   * reachable (then put/get and every v1 page call — its object id lives in guest memory — answer
   * not_supported; v0 flushes still work).
   */
  memoryOf?: (domain: DomainInfo, host: Host) => GuestMemoryAccess | undefined;
}

export function poolCallInstaller(service: PoolService, options: PoolBindingOptions = {}): CallInstaller {
  return (dispatcher, host) => {
    const attach = (domain: DomainInfo) => {
      if (service.hasDomain(domain.domid)) return;
      const statsGroup = host.statsGroup(domain.domid, POOL_GROUP);
      const memory = options.memoryOf?.(domain, host);
      service.attachDomain(domain.domid, { ...(memory ? { memory } : {}), ...(statsGroup ? { statsGroup } : {}) });
    };
    const detach = (domid: number) => service.detachDomain(domid);
    for (const d of host.list()) attach(d);
    const off = host.on((event) => {
      if (event.kind === 'created') attach(event.domain);
      else if (event.kind === 'dying' || event.kind === 'destroyed') detach(event.domain.domid);
    });
    const unregister = registerPoolCalls(dispatcher, service);
    return () => {
      off();
      unregister();
      for (const domid of service.domids()) detach(domid);
    };
  };
}
