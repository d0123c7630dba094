/**
 * Which simulated guest runs a program: the workloads (sim-workloads.ts), the call and pool
 * guests (sim-calls.ts, sim-pools.ts, built on the workloads) and the test guests. Kept apart from
 * the workloads so that the guests built on them do not import them back.
 */
import { GUEST_UNMAPPED_ADDRESS } from './guest-abi.ts';
import type { GuestProgram } from './guests.ts';
import { simCallsGuest } from './sim-calls.ts';
import { simPoolsGuest } from './sim-pools.ts';
import { computeRound, ioRound, mixedRound, type SimGuest, testGuest, workloadGuest } from './sim-workloads.ts';

/** What a simulated guest gets besides its vCPU index and rounds (entry registers, memory). */
export interface SimGuestOptions {
  /** The configuration word (EDX at entry). */
  arg?: number;
  /** Guest memory, as the VMM's host thread also sees it (the `calls` guest keeps its batch there). */
  memory?: SharedArrayBuffer;
}

export function simGuest(program: GuestProgram, vcpu: number, rounds: number, options: SimGuestOptions = {}): SimGuest {
  switch (program) {
    case 'calls':
      return simCallsGuest(vcpu, rounds, options.arg ?? 0, options.memory);
    case 'pools':
      return simPoolsGuest(vcpu, rounds, options.arg ?? 0, options.memory);
    case 'compute':
      return workloadGuest(vcpu, rounds, computeRound);
    case 'io':
      return workloadGuest(vcpu, rounds, ioRound);
    case 'mixed':
      return workloadGuest(vcpu, rounds, mixedRound);
    case 'spin':
      return testGuest(vcpu, { op: 'spin' });
    case 'fault':
      return testGuest(vcpu, { op: 'fault', marker: 0xdead_beef });
    case 'mmio':
      return testGuest(vcpu, { op: 'mmio', address: GUEST_UNMAPPED_ADDRESS, size: 4, write: true });
  }
}
