/** The micro-VMM: CPU backends (KVM, simulated) behind the backend contract (backend.ts), the guest ABI and the guests. */

export { checkDomainConfig, MAX_MEMORY_MIB, MIN_MEMORY_MIB, type VmmDomainConfig } from './domain-options.ts';
export * as guestAbi from './guest-abi.ts';
export { buildWorkloadGuest, GUEST_PROGRAMS, type GuestProgram, isGuestProgram, type TestGuest } from './guests.ts';
export { KvmBackend, type KvmBackendOptions } from './kvm-backend.ts';
export { type BackendChoice, openBackend, selectBackend } from './select.ts';
export { SimBackend, type SimBackendOptions } from './sim-backend.ts';
export { simGuest } from './sim-guests.ts';
export type { SimGuest } from './sim-workloads.ts';
