/**
 * The simulated backend: the same domains, workers, control block, run loop, device model and
 * stats writing as the KVM backend; only the CPU is a simulated guest (sim-core.ts). Runs
 * anywhere Node runs on Linux, with or without /dev/kvm.
 */

import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import type { Backend, DomainRuntime } from '../host/backend.ts';
import { checkDomainConfig, type VmmDomainConfig } from './domain-options.ts';
import { WorkerDomainRuntime } from './worker-runtime.ts';

export interface SimBackendOptions {
  statsRevision?: number;
}

export class SimBackend implements Backend {
  readonly kind = 'sim' as const;
  readonly #statsRevision: number;
  readonly #domains = new Set<DomainRuntime>();
  #closed = false;

  constructor(options: SimBackendOptions = {}) {
    this.#statsRevision = options.statsRevision ?? shippedStatsTableAbi().revision;
  }

  async createDomain(config: VmmDomainConfig): Promise<DomainRuntime> {
    if (this.#closed) throw new Error('simulated backend is closed');
    const { program, rounds } = checkDomainConfig(config);
    const runtime = await WorkerDomainRuntime.create(
      config,
      { program, rounds, statsRevision: this.#statsRevision },
      {
        kind: 'sim',
        workerData: () => ({}),
        // A simulated vCPU looks at its command word while it computes: nothing to interrupt.
        kick: () => {},
        kvmStatsFds: () => ({ vcpus: [] }),
        release: () => {},
      },
    );
    this.#domains.add(runtime);
    return runtime;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#domains].map((d) => d.destroy()));
  }
}
