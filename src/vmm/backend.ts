/**
 * The boundary between the host (domains, lifecycle, stats publishing) and what runs the guest
 * CPUs: real KVM, or the simulated backend used when /dev/kvm is absent (HVKIT_BACKEND=sim).
 * Both run the same host code; only the CPU is replaced.
 */

import type { GuestMemoryAccess } from './guest-memory.ts';

/** The guest programs in guest/; each has a distinct behaviour. */
export type Workload = 'compute' | 'io' | 'mixed';

export const WORKLOADS: readonly Workload[] = ['compute', 'io', 'mixed'];

export interface DomainConfig {
  /** Small id, 1..32767, reused after destruction. */
  domid: number;
  /** Host-unique, never repeated, meaningless 64-bit id. */
  uniqueId: bigint;
  name: string;
  vcpus: number;
  memoryMiB: number;
  workload: Workload;
  /**
   * Name under /dev/shm of the domain's stats table. The host creates and initialises it
   * (header, identity words) before createDomain; each vCPU worker maps it and writes its own
   * vCPU block's groups, lock-free.
   */
  statsRegion: string;
  /**
   * The stats-table revision the host created that table from: the one truth the vCPU workers
   * attach with (a worker built from another revision would refuse the table).
   */
  statsRevision: number;
}

/** Something a guest told the host through the report port, or the host noticed about it. */
export type DomainEvent =
  | { kind: 'report'; vcpu: number; code: number; value: bigint }
  | { kind: 'guest-shutdown'; vcpu: number; reason: string }
  | { kind: 'crashed'; vcpu: number; reason: string; registers: Record<string, string> };

export type DomainRunState = 'created' | 'running' | 'paused' | 'stopped' | 'destroyed';

export interface DomainRuntime {
  readonly config: DomainConfig;
  readonly backend: BackendKind;
  readonly state: DomainRunState;
  /** Starts every vCPU (first unpause). */
  start(): Promise<void>;
  /** Returns once every vCPU is out of the guest and waiting. */
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** Stops every vCPU for good (the domain's resources stay until destroy). */
  stop(): Promise<void>;
  /** Stops if needed, ends the workers, closes every fd and mapping. Idempotent. */
  destroy(): Promise<void>;
  /** KVM stats fds kept open in this process for tools (fd numbers); empty for the sim backend. */
  kvmStatsFds(): { vm?: number; vcpus: number[] };
  /** Guest memory as the host thread sees it (page pools, call batches, save/restore). */
  guestMemory?(): GuestMemoryAccess;
  onEvent(listener: (event: DomainEvent) => void): void;
}

export type BackendKind = 'kvm' | 'sim';

export interface Backend {
  readonly kind: BackendKind;
  createDomain(config: DomainConfig): Promise<DomainRuntime>;
  close(): Promise<void>;
}
