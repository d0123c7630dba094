/** Per-domain options of hvkit's backends beyond the host's DomainConfig, and their checks. */

import { UsageError } from '../errors.ts';
import { MAX_CAPACITY } from '../formats/callbatch/constants.ts';
import type { DomainConfig } from './backend.ts';
import { MAX_GUEST_VCPUS } from './guest-abi.ts';
import type { CallSink } from './guest-calls.ts';
import { type GuestProgram, isGuestProgram } from './guests.ts';
import type { DomainRestore } from './restore.ts';

export interface VmmDomainConfig extends DomainConfig {
  /** The guest to run instead of the workload's (tests: spin, fault, mmio). */
  program?: GuestProgram;
  /** Rounds the guest runs before it reports DONE and its vCPU stops (default 0 = forever). */
  rounds?: number;
  /** Create the domain from a saved state instead of booting the program (save/restore, migration). */
  restore?: DomainRestore;
  /** The program's configuration word, EDX at entry (the `calls` guest: batch size and flags). */
  arg?: number;
  /** The dispatcher serving this domain's hypercalls (default: the backend's). */
  calls?: CallSink;
  /** Most batch entries one flush processes, 1..MAX_CAPACITY (default: a whole batch). */
  batchBudget?: number;
}

export interface CheckedDomainConfig {
  program: GuestProgram;
  rounds: number;
  arg: number;
  batchBudget?: number;
}

/** Guest RAM bounds: the guest layout needs the first MiB; beyond 4 GiB a 32-bit guest cannot reach. */
export const MIN_MEMORY_MIB = 1;
export const MAX_MEMORY_MIB = 4096;
/** A host's default largest guest RAM (hvkit host --max-guest-memory), in MiB. */
export const DEFAULT_MAX_GUEST_MEMORY_MIB = 1024;

export function checkDomainConfig(config: VmmDomainConfig): CheckedDomainConfig {
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
  const arg = config.arg ?? 0;
  if (!Number.isInteger(arg) || arg < 0 || arg > 0xffff_ffff) throw new UsageError(`arg must be 0..2^32-1: ${arg}`);
  const budget = config.batchBudget;
  if (budget !== undefined && (!Number.isInteger(budget) || budget < 1 || budget > MAX_CAPACITY)) {
    throw new UsageError(`batchBudget must be 1..${MAX_CAPACITY}: ${budget}`);
  }
  return { program, rounds, arg, ...(budget === undefined ? {} : { batchBudget: budget }) };
}
