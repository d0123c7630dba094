/**
 * The simulated backend: the same domains, workers, control block, run loop, device model and
 * stats writing as the KVM backend; only the CPU is a simulated guest (sim-core.ts). Runs
 * anywhere Node runs on Linux, with or without /dev/kvm.
 */

import { ClosedError } from '../errors.ts';
import type { Backend, DomainRuntime } from './backend.ts';
import { checkDomainConfig, type VmmDomainConfig } from './domain-options.ts';
import type { CallSink } from './guest-calls.ts';
import { sharedGuestMemory } from './guest-memory.ts';
import { callOptions } from './kvm-backend.ts';
import { LiveRuntimes } from './live-runtimes.ts';
import { checkRestore, writePages } from './restore.ts';
import { type VcpuPlatform, WorkerDomainRuntime } from './worker-runtime.ts';

export interface SimBackendOptions {
  /** The dispatcher serving hypercalls of every domain (a domain's `calls` overrides it). */
  calls?: CallSink;
}

/**
 * Domain `config`'s simulated machine: guest memory (restored pages written) and the platform a
 * runtime drives it through. Tests wrap it to inject failures.
 */
export function simDomainPlatform(config: VmmDomainConfig): VcpuPlatform {
  // Guest memory as in the KVM backend: zero pages the kernel only backs once touched.
  const memory = new SharedArrayBuffer(config.memoryMiB * 1024 * 1024);
  if (config.restore) {
    checkRestore(config.restore, 'sim', config.vcpus);
    writePages(sharedGuestMemory(memory), config.restore);
  }
  return {
    kind: 'sim',
    workerData: () => ({ simMemory: memory }),
    memory: () => sharedGuestMemory(memory),
    // A simulated vCPU looks at its command word while it computes: nothing to interrupt.
    kick: () => {},
    kvmStatsFds: () => ({ vcpus: [] }),
    release: () => {},
  };
}

export class SimBackend implements Backend {
  readonly kind = 'sim' as const;
  readonly #calls: CallSink | undefined;
  readonly #domains = new LiveRuntimes();
  #closed = false;

  constructor(options: SimBackendOptions = {}) {
    this.#calls = options.calls;
  }

  async createDomain(config: VmmDomainConfig): Promise<DomainRuntime> {
    if (this.#closed) throw new ClosedError('simulated backend');
    const { program, rounds, arg, batchBudget } = checkDomainConfig(config);
    const runtime = await WorkerDomainRuntime.create(
      config,
      {
        program,
        rounds,
        arg,
        statsRevision: config.statsRevision,
        ...(config.restore ? { restore: config.restore.vcpus } : {}),
        ...callOptions(config.calls ?? this.#calls, batchBudget),
      },
      simDomainPlatform(config),
    );
    this.#domains.add(runtime);
    return runtime;
  }

  /** The live runtime of domain `domid` (save/restore captures through it). */
  domainRuntime(domid: number): WorkerDomainRuntime | undefined {
    return this.#domains.find(domid);
  }

  /** Domains created and not yet fully destroyed. */
  get liveDomains(): number {
    return this.#domains.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#domains.destroyAll();
  }
}
