/**
 * What one guest may take on this host: the one guest-memory limit, used by every way a domain
 * comes to exist — `ctl create`, `ctl restore` and an incoming migration all end in
 * Host.createDomain, which checks it; stream readers are given the same number so that a stream
 * declaring more is refused at its header, before its memory is read. Set with
 * `hvkit host --max-guest-memory MiB`.
 */
import { FormatError, UsageError } from '../errors.ts';
import { DEFAULT_MAX_GUEST_MEMORY_MIB, MAX_MEMORY_MIB } from '../vmm/domain-options.ts';

export { DEFAULT_MAX_GUEST_MEMORY_MIB };

export interface GuestLimits {
  /** Largest guest RAM a domain may have, in MiB (1..MAX_MEMORY_MIB). */
  maxGuestMemoryMiB: number;
}

export const DEFAULT_GUEST_LIMITS: GuestLimits = { maxGuestMemoryMiB: DEFAULT_MAX_GUEST_MEMORY_MIB };

/** Checked limits (a usage error naming the bound for a value the backends could never honour). */
export function guestLimits(given: Partial<GuestLimits> = {}): GuestLimits {
  const max = given.maxGuestMemoryMiB ?? DEFAULT_MAX_GUEST_MEMORY_MIB;
  if (!Number.isInteger(max) || max < 1 || max > MAX_MEMORY_MIB) {
    throw new UsageError(`the guest memory limit must be 1..${MAX_MEMORY_MIB} MiB (got ${max})`);
  }
  return { maxGuestMemoryMiB: max };
}

/** Refuses a guest over the limits, naming the limit and how to raise it. */
export function checkGuestLimits(limits: GuestLimits, guest: { memoryMiB: number }): void {
  if (guest.memoryMiB > limits.maxGuestMemoryMiB) throw overMemoryLimit(limits, guest.memoryMiB);
}

function overMemoryLimit(limits: GuestLimits, memoryMiB: number): UsageError {
  return new UsageError(
    `guest memory ${memoryMiB} MiB is over this host's limit of ${limits.maxGuestMemoryMiB} MiB (hvkit host --max-guest-memory)`,
  );
}

/**
 * A stream reader's refusal of a guest over `maxMemoryMiB` (rule too-much-memory, given the
 * host's limit) as the same usage error a create gets; any other error is returned unchanged.
 */
export function asLimitError(err: unknown, limits: GuestLimits): unknown {
  if (err instanceof FormatError && err.rule === 'too-much-memory' && err.value !== undefined) {
    const memoryMiB = Number(err.value);
    if (memoryMiB > limits.maxGuestMemoryMiB) return overMemoryLimit(limits, memoryMiB);
  }
  return err;
}
