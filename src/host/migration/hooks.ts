/**
 * What save/restore needs from the rest of the host beyond the Host class: the runtime of a
 * domain (to capture vCPU state and guest memory), and the page pools' snapshot functions.
 *
 * The pools hooks are an interface the page-pool service implements: its snapshot is carried as an
 * optional POOLS record in its own format (the stream only checks its framing and checksum). With
 * no hooks, no POOLS record is written and one found on restore is reported as not applied.
 */

import { UsageError } from '../../errors.ts';
import type { VcpuState } from '../../formats/stream/image.ts';
import type { VmmDomainConfig } from '../../vmm/domain-options.ts';
import type { GuestMemoryAccess } from '../../vmm/guest-memory.ts';
import type { Host } from '../host.ts';

/** The part of a backend's domain runtime save/restore uses (src/vmm/worker-runtime.ts). */
export interface CapturableRuntime {
  readonly config: VmmDomainConfig;
  readonly state: string;
  captureState(): Promise<VcpuState[]>;
  guestMemory(): GuestMemoryAccess;
}

interface RuntimeLookup {
  domainRuntime(domid: number): CapturableRuntime | undefined;
}

/** The capturable runtime of `domid` on `host`'s backend; UsageError when it has none. */
export function runtimeOf(host: Host, domid: number): CapturableRuntime {
  const lookup = host.backend as unknown as Partial<RuntimeLookup>;
  if (typeof lookup.domainRuntime !== 'function') {
    throw new UsageError(`the ${host.backend.kind} backend of this host cannot capture domains`);
  }
  const runtime = lookup.domainRuntime(domid);
  if (!runtime) throw new UsageError(`no domain ${domid}`);
  return runtime;
}

export interface PoolStreamHooks {
  /** Version of the snapshot format `snapshot` writes. */
  readonly format: number;
  /** The domain's pools and pages, or undefined when it has none. Called while the domain is paused. */
  snapshot(domid: number): Uint8Array | undefined;
  /**
   * Checks a snapshot completely (its format, its bytes, and the limits restore() would check
   * against the service as it is now) without changing anything; throws what restore() would.
   * A restore calls it before it creates the domain, so an unusable snapshot leaves no trace.
   */
  validate(format: number, data: Uint8Array): void;
  /**
   * Recreates pools from a snapshot for a new domain, before it runs; throws (leaving nothing) when
   * the snapshot is unusable. Formats it does not know must be refused.
   */
  restore(domid: number, format: number, data: Uint8Array): void;
  /** Drops whatever restore() created for `domid` (a restore that failed later). */
  discard(domid: number): void;
}
