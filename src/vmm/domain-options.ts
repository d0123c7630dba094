/** Per-domain options of hvkit's backends beyond the host's DomainConfig, and their checks. */

import { UsageError } from '../errors.ts';
import type { DomainConfig } from '../host/backend.ts';
import { MAX_GUEST_VCPUS } from './guest-abi.ts';
import { type GuestProgram, isGuestProgram } from './guests.ts';

export interface VmmDomainConfig extends DomainConfig {
  /** The guest to run instead of the workload's (tests: spin, fault, mmio). */
  program?: GuestProgram;
  /** Rounds the guest runs before it reports DONE and its vCPU stops (default 0 = forever). */
  rounds?: number;
}

/** Guest RAM bounds: the guest layout needs the first MiB; beyond 4 GiB a 32-bit guest cannot reach. */
export const MIN_MEMORY_MIB = 1;
export const MAX_MEMORY_MIB = 4096;

export function checkDomainConfig(config: VmmDomainConfig): { program: GuestProgram; rounds: number } {
  if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > MAX_GUEST_VCPUS) {
    throw new UsageError(`vcpus must be 1..${MAX_GUEST_VCPUS}: ${config.vcpus}`);
  }
  if (!Number.isInteger(config.memoryMiB) || config.memoryMiB < MIN_MEMORY_MIB || config.memoryMiB > MAX_MEMORY_MIB) {
    throw new UsageError(`memoryMiB must be ${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB}: ${config.memoryMiB}`);
  }
  const program = config.program ?? config.workload;
  if (!isGuestProgram(program)) throw new UsageError(`unknown workload: ${program}`);
  const rounds = config.rounds ?? 0;
  if (!Number.isInteger(rounds) || rounds < 0 || rounds > 0xffff_ffff) {
    throw new UsageError(`rounds must be 0..2^32-1: ${rounds}`);
  }
  return { program, rounds };
}
