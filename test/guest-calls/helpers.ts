/**
 * Shared by the guest-call tests: a dispatcher with the core, batch and experimental calls, a
 * `calls` domain run to completion on a backend, its reports by code, and the reference report
 * sequence (the simulated guest against an in-process dispatcher and memory).
 */

import { registerCoreCalls } from '../../src/calls/core.ts';
import { Dispatcher } from '../../src/calls/dispatcher.ts';
import { registerExperimentalCalls } from '../../src/calls/experimental.ts';
import { shippedCallWordAbi } from '../../src/formats/callword/abi.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';
import type { Backend, DomainEvent, DomainRuntime } from '../../src/vmm/backend.ts';
import type { VmmDomainConfig } from '../../src/vmm/domain-options.ts';
import { REPORT } from '../../src/vmm/guest-abi.ts';
import { registerBatchCalls } from '../../src/vmm/guest-calls.ts';
import { reportsOf, vcpuCounters } from '../vmm/helpers.ts';

let sequence = 0;

export interface DispatcherSetup {
  core?: boolean;
  batch?: boolean;
  experimental?: boolean;
}

export function makeDispatcher(setup: DispatcherSetup = {}): Dispatcher {
  const d = new Dispatcher();
  const abi = shippedCallWordAbi();
  if (setup.core !== false) registerCoreCalls(d, { abi: { major: abi.major, revision: abi.revision } });
  if (setup.batch !== false) registerBatchCalls(d);
  if (setup.experimental !== false) registerExperimentalCalls(d);
  return d;
}

export interface CallsRun {
  /** Per vCPU: report code → value (last one of each code). */
  reports: Map<number, bigint>[];
  sequences: Array<Array<[number, bigint]>>;
  counters: Map<string, bigint>[];
  crashed: string[];
  kvmExits: bigint[];
}

export async function runCallsGuest(
  backend: Backend,
  options: { arg: number; rounds: number; vcpus?: number; memoryMiB?: number; budget?: number; calls: Dispatcher },
): Promise<CallsRun> {
  const vcpus = options.vcpus ?? 1;
  const abi = shippedStatsTableAbi();
  const id = ++sequence;
  const statsRegion = `hvkit.test.${process.pid}.calls${id}.stats`;
  const region = createShmRegion(statsRegion, StatsTableWriter.plan(abi, { nrVcpus: vcpus }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: vcpus });
  const config: VmmDomainConfig = {
    domid: id,
    uniqueId: BigInt(id),
    name: `calls-${id}`,
    vcpus,
    memoryMiB: options.memoryMiB ?? 2,
    workload: 'compute',
    program: 'calls',
    rounds: options.rounds,
    statsRegion,
    statsRevision: abi.revision,
    arg: options.arg,
    calls: options.calls,
    ...(options.budget ? { batchBudget: options.budget } : {}),
  };
  const events: DomainEvent[] = [];
  let runtime: DomainRuntime | undefined;
  try {
    runtime = await backend.createDomain(config);
    const finished = new Set<number>();
    const done = new Promise<void>((resolve) =>
      runtime!.onEvent((e) => {
        events.push(e);
        if (e.kind !== 'report') finished.add(e.vcpu);
        if (finished.size === vcpus) resolve();
      }),
    );
    await runtime.start();
    await done;
    const sequences = Array.from({ length: vcpus }, (_, v) => reportsOf(events, v));
    return {
      sequences,
      reports: sequences.map((s) => new Map(s)),
      counters: Array.from({ length: vcpus }, (_, v) => vcpuCounters(region, v)),
      crashed: events.flatMap((e) => (e.kind === 'crashed' ? [e.reason] : [])),
      kvmExits: [],
    };
  } finally {
    await runtime?.destroy();
    region.close();
  }
}

export const R = REPORT;
