/**
 * Shared by the teardown tests (simulated and KVM backends): a domain's stats table and options,
 * a call sink that can hold the guest's hypercalls (so its vCPU sits in a call while the domain is
 * destroyed) or leave a failing cleanup on the guest's session, and a platform wrapper that
 * counts release() and injects failures into the real platform's steps.
 */
import type { CallContext, CallOutcome } from '../../src/calls/dispatcher.ts';
import { STATUS } from '../../src/formats/callword/constants.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import type { Region } from '../../src/shm/region.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';
import type { VmmDomainConfig } from '../../src/vmm/domain-options.ts';
import type { CallSink } from '../../src/vmm/guest-calls.ts';
import type { GuestProgram } from '../../src/vmm/guests.ts';
import type { RuntimeOptions, VcpuPlatform } from '../../src/vmm/worker-runtime.ts';
import { hangDeadline } from '../support/slowdown.ts';

/** A failure a test put there on purpose (so it is told apart from any real one). */
export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

let sequence = 0;

export interface TeardownDomain {
  config: VmmDomainConfig;
  /** The stats table the host would have created; close it after the domain. */
  region: Region;
  options(calls?: CallSink): RuntimeOptions;
}

export function teardownDomain(program: GuestProgram, vcpus: number): TeardownDomain {
  const abi = shippedStatsTableAbi();
  const statsRegion = `hvkit.test.${process.pid}.teardown${++sequence}.stats`;
  const region = createShmRegion(statsRegion, StatsTableWriter.plan(abi, { nrVcpus: vcpus }).regionSize);
  StatsTableWriter.create(region, abi, { nrVcpus: vcpus });
  const config: VmmDomainConfig = {
    domid: 100 + sequence,
    uniqueId: BigInt(100 + sequence),
    name: `teardown-${program}`,
    vcpus,
    memoryMiB: 2,
    workload: 'compute',
    program,
    statsRegion,
    statsRevision: abi.revision,
  };
  return {
    config,
    region,
    options: (calls) => ({
      program,
      rounds: 0,
      arg: 0,
      statsRevision: abi.revision,
      ...(calls ? { calls } : {}),
    }),
  };
}

export interface TestCalls extends CallSink {
  /** Resolves at the guest's first hypercall. */
  entered: Promise<void>;
  /** Lets held calls (and every later one) answer. */
  answer(): void;
  /** What the service reported as internal errors (none expected). */
  internalErrors: unknown[];
}

/**
 * A dispatcher for the `calls` guest: every call answers unknown_family. With `hold`, calls wait
 * for answer(); with `failingCleanup`, each call leaves a cleanup on the guest's session that
 * throws it (a handler whose session resource cannot be released), so closing the calls fails.
 */
export function testCalls(options: { hold?: boolean; failingCleanup?: Error } = {}): TestCalls {
  let enter!: () => void;
  const entered = new Promise<void>((resolve) => {
    enter = resolve;
  });
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  if (!options.hold) answer();
  const failingCleanup = options.failingCleanup;
  const internalErrors: unknown[] = [];
  return {
    entered,
    answer,
    internalErrors,
    async dispatch(_word: number, _args: readonly bigint[], ctx: CallContext): Promise<CallOutcome> {
      if (failingCleanup) {
        ctx.session?.onClose(() => {
          throw failingCleanup;
        });
      }
      enter();
      await answered;
      return { status: STATUS.unknownFamily, values: [] };
    },
    features: () => ({ query: () => undefined }),
    reportInternalError(_name: string, error: unknown) {
      internalErrors.push(error);
    },
  };
}

export interface Injected {
  /** Thrown by every kick (the stop command fails). */
  kick?: Error;
  /** Thrown by release() after the real release ran. */
  release?: Error;
  /** Thrown by workerData() for this vCPU (starting the workers fails part-way). */
  workerData?: { vcpu: number; error: Error };
}

export interface CountedPlatform extends VcpuPlatform {
  /** How many times release() was called. */
  readonly releases: number;
}

/** The real platform `base` with release() counted and the `inject`ed failures. */
export function injectFailures(base: VcpuPlatform, inject: Injected): CountedPlatform {
  let releases = 0;
  return {
    kind: base.kind,
    workerData(vcpu) {
      if (inject.workerData?.vcpu === vcpu) throw inject.workerData.error;
      return base.workerData(vcpu);
    },
    memory: () => base.memory(),
    kick(vcpu, tid) {
      if (inject.kick) throw inject.kick;
      base.kick(vcpu, tid);
    },
    kvmStatsFds: () => base.kvmStatsFds(),
    release() {
      releases++;
      base.release();
      if (inject.release) throw inject.release;
    },
    get releases() {
      return releases;
    },
  };
}

/** Resolves as `promise` does, or rejects when it has not settled by the (scaled) hang deadline. */
export async function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InjectedFailure(`${what} did not settle`)), hangDeadline(ms));
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}
