/**
 * Which CPU backend to use: HVKIT_BACKEND=sim|kvm forces one; otherwise KVM when /dev/kvm is
 * usable, else the simulated backend. The choice always comes with the reason.
 */

import { UsageError } from '../errors.ts';
import { kvmUnavailableReason } from '../kvm/system.ts';
import type { Backend, BackendKind } from './backend.ts';
import type { CallSink } from './guest-calls.ts';
import { KvmBackend } from './kvm-backend.ts';
import { SimBackend } from './sim-backend.ts';

export interface BackendChoice {
  kind: BackendKind;
  /** Why, in one sentence (for logs and the demo's banner). */
  reason: string;
}

/** Throws UsageError for an unknown HVKIT_BACKEND, or for HVKIT_BACKEND=kvm when KVM is not usable. */
export function selectBackend(env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const forced = env.HVKIT_BACKEND;
  if (forced !== undefined && forced !== '') {
    if (forced === 'sim') return { kind: 'sim', reason: 'HVKIT_BACKEND=sim' };
    if (forced !== 'kvm') throw new UsageError(`HVKIT_BACKEND must be sim or kvm, not ${JSON.stringify(forced)}`);
    const why = kvmUnavailableReason();
    if (why) throw new UsageError(`HVKIT_BACKEND=kvm but KVM is not usable: ${why}`);
    return { kind: 'kvm', reason: 'HVKIT_BACKEND=kvm' };
  }
  const why = kvmUnavailableReason();
  return why === undefined
    ? { kind: 'kvm', reason: '/dev/kvm is usable' }
    : { kind: 'sim', reason: `KVM is not usable (${why}); simulated guests instead` };
}

/** Opens the backend `choice` names (default: selectBackend()); `calls` serves the guests' hypercalls. */
export function openBackend(choice: BackendChoice = selectBackend(), options: { calls?: CallSink } = {}): Backend {
  return choice.kind === 'kvm' ? KvmBackend.open(options) : new SimBackend(options);
}
