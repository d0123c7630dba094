/**
 * Shared by the VMM tests: a stats table under /dev/shm per domain (as the host creates it), a
 * domain run to completion with its events, decoded per-vCPU counters, and the reference report
 * sequence of a workload (the simulated guest run against the device model, in-process).
 */
import { readdirSync } from 'node:fs';
import { StatsTableReader, StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import type { Region } from '../../src/shm/region.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';
import type { Backend, DomainEvent, DomainRuntime } from '../../src/vmm/backend.ts';
import { PortDevices } from '../../src/vmm/devices.ts';
import type { VmmDomainConfig } from '../../src/vmm/domain-options.ts';
import type { GuestProgram } from '../../src/vmm/guests.ts';
import { simGuest } from '../../src/vmm/sim-guests.ts';

let sequence = 0;

export interface TestDomain {
  runtime: DomainRuntime;
  region: Region;
  events: DomainEvent[];
  /** Resolves once every vCPU has finished (guest-shutdown) or crashed. */
  settled: Promise<void>;
  /** Resolves once `n` reports have arrived from every vCPU. */
  reportsFrom(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function createTestDomain(
  backend: Backend,
  program: GuestProgram,
  options: { vcpus?: number; rounds?: number } = {},
): Promise<TestDomain> {
  const vcpus = options.vcpus ?? 2;
  const abi = shippedStatsTableAbi();
  const statsRegion = `hvkit.test.${process.pid}.vmm${++sequence}.stats`;
  const region = createShmRegion(statsRegion, StatsTableWriter.plan(abi, { nrVcpus: vcpus }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: vcpus });
  const config: VmmDomainConfig = {
    domid: sequence,
    uniqueId: BigInt(sequence),
    name: `test-${program}`,
    vcpus,
    memoryMiB: 2,
    workload: 'compute',
    program,
    rounds: options.rounds ?? 0,
    statsRegion,
    statsRevision: abi.revision,
  };
  let runtime: DomainRuntime;
  try {
    runtime = await backend.createDomain(config);
  } catch (err) {
    region.close();
    throw err;
  }
  const events: DomainEvent[] = [];
  const finished = new Set<number>();
  const waiters: (() => void)[] = [];
  runtime.onEvent((e) => {
    events.push(e);
    if (e.kind !== 'report') finished.add(e.vcpu);
    for (const w of waiters.splice(0)) w();
  });
  const until = (ok: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (ok() ? resolve() : waiters.push(check));
      check();
    });
  return {
    runtime,
    region,
    events,
    settled: until(() => finished.size === vcpus),
    reportsFrom: (n) =>
      until(() => {
        for (let v = 0; v < vcpus; v++) {
          if (events.filter((e) => e.kind === 'report' && e.vcpu === v).length < n) return false;
        }
        return true;
      }),
    async close() {
      await runtime.destroy();
      region.close();
    },
  };
}

/** vCPU `vcpu`'s counters as group.counter → value (histograms: the sum of their buckets). */
export function vcpuCounters(region: Region, vcpu: number): Map<string, bigint> {
  const table = StatsTableReader.open(region, shippedStatsTableAbi()).read();
  const out = new Map<string, bigint>();
  const block = table.vcpus[vcpu]!;
  for (const g of block.groups) {
    for (const c of g.counters) {
      if (c.value !== undefined) out.set(`${g.name}.${c.name}`, c.value);
      else if (c.buckets)
        out.set(
          `${g.name}.${c.name}`,
          c.buckets.reduce((a, b) => a + b, 0n),
        );
    }
  }
  return out;
}

export function vcpuIdentity(region: Region, vcpu: number) {
  return StatsTableReader.open(region, shippedStatsTableAbi()).read().vcpus[vcpu]!.identity ?? {};
}

/** The reports the workload guest sends on vCPU `vcpu` in `rounds` rounds, computed in-process. */
export function referenceReports(program: GuestProgram, vcpu: number, rounds: number): Array<[number, bigint]> {
  const guest = simGuest(program, vcpu, rounds);
  const devices = new PortDevices();
  const reports: Array<[number, bigint]> = [];
  let input = 0;
  for (let step = 0; step < 1_000_000; step++) {
    const next = guest.next(input);
    input = 0;
    if (next.done) break;
    const op = next.value;
    if (op.op === 'out') {
      for (const v of op.values) {
        if (devices.out(op.port, v)) reports.push([devices.reportCode, BigInt(devices.reportValue)]);
      }
      if (reports.at(-1)?.[0] === 8) break;
    } else if (op.op === 'in') input = devices.in(op.port, op.size);
    else if (op.op !== 'hlt') break;
  }
  return reports;
}

/** The reports a domain delivered for one vCPU, in order. */
export function reportsOf(events: DomainEvent[], vcpu: number): Array<[number, bigint]> {
  return events.flatMap((e) => (e.kind === 'report' && e.vcpu === vcpu ? [[e.code, e.value] as [number, bigint]] : []));
}

/** Threads of this process (each worker is one). */
export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

/** Polls `ok` until true or `ms` elapsed; returns its last answer. */
export async function eventually(ok: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return ok();
}
