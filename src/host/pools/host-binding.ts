/**
 * Plugs a PoolService into a running Host and its dispatcher (a CallInstaller for
 * createHostDispatcher): every domain gets pools when it is created and loses them when it
 * starts dying. The host thread attaches as a second writer of each domain's stats table and
 * writes only the domain's `pool` group (the host's own writer never touches it; the vCPU
 * workers write only their vCPU blocks), so the group has exactly one writer.
 */
import { shippedStatsTableAbi } from '../../formats/stats-table/abi.ts';
import { StatsTableWriter } from '../../formats/stats-table/writer.ts';
import type { Region } from '../../shm/region.ts';
import { openShmRegion } from '../../shm/shm-file.ts';
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
    const regions = new Map<number, Region>();
    const attach = (domain: DomainInfo) => {
      if (service.hasDomain(domain.domid)) return;
      let region: Region | undefined;
      let statsGroup: ReturnType<StatsTableWriter['dom']> | undefined;
      try {
        region = openShmRegion(domain.statsRegion, { writable: true });
        const writer = StatsTableWriter.attach(region, shippedStatsTableAbi());
        if (writer.model.dom.some((g) => g.name === POOL_GROUP)) statsGroup = writer.dom(POOL_GROUP);
        regions.set(domain.domid, region);
      } catch (e) {
        // The pools still work (their counters stay in the service), but a table hvkit made that
        // it cannot attach to is a defect: say so instead of silently losing the counters.
        region?.close();
        statsGroup = undefined;
        dispatcher.reportInternalError(`pools: stats table of domain ${domain.domid}`, e);
      }
      const memory = options.memoryOf?.(domain, host);
      service.attachDomain(domain.domid, { ...(memory ? { memory } : {}), ...(statsGroup ? { statsGroup } : {}) });
    };
    const detach = (domid: number) => {
      service.detachDomain(domid);
      regions.get(domid)?.close();
      regions.delete(domid);
    };
    for (const d of host.list()) attach(d);
    const off = host.on((event) => {
      if (event.kind === 'created') attach(event.domain);
      else if (event.kind === 'dying' || event.kind === 'destroyed') detach(event.domain.domid);
    });
    const unregister = registerPoolCalls(dispatcher, service);
    return () => {
      off();
      unregister();
      for (const domid of [...regions.keys()]) detach(domid);
      for (const domid of service.domids()) service.detachDomain(domid);
    };
  };
}
