/**
 * The domain family over a Host: count + get by index (the list), create, destroy, pause,
 * unpause, shutdown, info. Changing calls are for tools only; guests may read.
 *
 * Host failures become defined statuses: a domid that names nothing → no_such_domain, an
 * operation the domain's state does not allow → invalid_state (checked first, and again when the
 * host refuses because another call got there first), no free domid → no_resources, a stopping
 * host → busy, an unusable configuration → bad_argument.
 */

import { CallError, type CallOutcome, type Dispatcher, ok } from '../calls/dispatcher.ts';
import { UsageError } from '../errors.ts';
import { CREATE_FLAG, DOMAIN_CALL, FAMILY, STATUS, WORKLOAD } from '../formats/callword/constants.ts';
import { encodeDomainInfo, unpackName, type WorkloadName } from '../formats/callword/values.ts';
import type { DomainInfo, Host } from './host.ts';
import { type DomainState, MAX_DOMID } from './lifecycle.ts';

export function domainInfoValues(d: DomainInfo): bigint[] {
  return encodeDomainInfo({
    domid: d.domid,
    uniqueId: d.uniqueId,
    generation: d.generation,
    state: d.state,
    vcpus: d.vcpus,
    memoryMiB: d.memoryMiB,
    workload: d.workload,
    name: d.name,
  });
}

function domidArg(v: bigint): number {
  if (v < 1n || v > BigInt(MAX_DOMID)) throw new CallError(STATUS.badArgument, `domid ${v} is outside 1..${MAX_DOMID}`);
  return Number(v);
}

function hostError(e: unknown): never {
  if (e instanceof UsageError) {
    if (/stopping/.test(e.message)) throw new CallError(STATUS.busy, e.message);
    if (/no free domid/.test(e.message)) throw new CallError(STATUS.noResources, e.message);
    throw new CallError(STATUS.badArgument, e.message);
  }
  throw e;
}

/** An operation on one existing domain, refused up front when its state does not allow it. */
function domainOp(
  host: Host,
  allowed: readonly DomainState[],
  run: (domid: number) => Promise<DomainInfo>,
): (args: readonly bigint[]) => Promise<CallOutcome> {
  return async ([arg]) => {
    const domid = domidArg(arg!);
    const before = host.domain(domid);
    if (!before) throw new CallError(STATUS.noSuchDomain, `no domain ${domid}`);
    if (!allowed.includes(before.state)) throw new CallError(STATUS.invalidState, `domain ${domid} is ${before.state}`);
    try {
      return ok(...domainInfoValues(await run(domid)));
    } catch (e) {
      if (e instanceof UsageError) {
        // Another call changed the domain meanwhile: say what it is now.
        if (!host.domain(domid)) throw new CallError(STATUS.noSuchDomain, e.message);
        throw new CallError(STATUS.invalidState, e.message);
      }
      throw e;
    }
  };
}

const TOOLS = ['tool'] as const;
const LIMIT = 0xffff_ffffn;

export function registerDomainCalls(d: Dispatcher, host: Host): () => void {
  const offs = [
    d.register(FAMILY.domain, DOMAIN_CALL.count, {
      name: 'domain.count',
      nargs: 0,
      handler: () => ok(BigInt(host.list().length)),
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.get, {
      name: 'domain.get',
      nargs: 1,
      handler: ([index]) => {
        const list = host.list();
        if (index! >= BigInt(list.length)) throw new CallError(STATUS.badArgument, `index ${index} ≥ ${list.length}`);
        return ok(...domainInfoValues(list[Number(index)]!));
      },
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.info, {
      name: 'domain.info',
      nargs: 1,
      handler: ([arg]) => {
        const info = host.domain(domidArg(arg!));
        if (!info) throw new CallError(STATUS.noSuchDomain, `no domain ${arg}`);
        return ok(...domainInfoValues(info));
      },
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.create, {
      name: 'domain.create',
      nargs: 6,
      callers: TOOLS,
      handler: async ([vcpus, memory, workload, flags, n0, n1]) => {
        if (vcpus! < 1n || vcpus! > LIMIT) throw new CallError(STATUS.badArgument, 'vcpus');
        if (memory! < 1n || memory! > LIMIT) throw new CallError(STATUS.badArgument, 'memory_mib');
        const wl = (Object.keys(WORKLOAD) as WorkloadName[]).find((k) => BigInt(WORKLOAD[k]) === workload);
        if (!wl) throw new CallError(STATUS.badArgument, `unknown workload ${workload}`);
        if ((flags! & ~CREATE_FLAG.paused) !== 0n) throw new CallError(STATUS.badArgument, 'unknown create flags');
        let name: string;
        try {
          name = unpackName(n0!, n1!);
        } catch (e) {
          throw new CallError(STATUS.badArgument, (e as Error).message);
        }
        try {
          const info = await host.createDomain({
            vcpus: Number(vcpus),
            memoryMiB: Number(memory),
            workload: wl,
            ...(name === '' ? {} : { name }),
            paused: (flags! & CREATE_FLAG.paused) !== 0n,
          });
          return ok(...domainInfoValues(info));
        } catch (e) {
          hostError(e);
        }
      },
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.destroy, {
      name: 'domain.destroy',
      nargs: 1,
      callers: TOOLS,
      queueable: true,
      handler: domainOp(host, ['running', 'paused', 'shutdown'], (id) => host.destroy(id)),
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.pause, {
      name: 'domain.pause',
      nargs: 1,
      callers: TOOLS,
      queueable: true,
      handler: domainOp(host, ['running'], (id) => host.pause(id)),
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.unpause, {
      name: 'domain.unpause',
      nargs: 1,
      callers: TOOLS,
      queueable: true,
      handler: domainOp(host, ['paused'], (id) => host.unpause(id)),
    }),
    d.register(FAMILY.domain, DOMAIN_CALL.shutdown, {
      name: 'domain.shutdown',
      nargs: 1,
      callers: TOOLS,
      queueable: true,
      handler: domainOp(host, ['running', 'paused'], (id) => host.shutdown(id)),
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
