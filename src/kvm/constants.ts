/**
 * KVM ABI numbers (x86_64), as defined by <linux/kvm.h> and <asm/kvm.h>.
 * The _IOW/_IOR numbers encode the struct size, so they double as a size check on the layouts in regs.ts.
 */

export const KVM_API_VERSION = 12;

export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_CREATE_VCPU = 0xae41;
/** _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) — 32 bytes. */
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_SET_TSS_ADDR = 0xae47;
export const KVM_RUN = 0xae80;
/** _IOR(KVMIO, 0x81, struct kvm_regs) — 144 bytes. */
export const KVM_GET_REGS = 0x8090ae81;
/** _IOW(KVMIO, 0x82, struct kvm_regs). */
export const KVM_SET_REGS = 0x4090ae82;
/** _IOR(KVMIO, 0x83, struct kvm_sregs) — 312 bytes. */
export const KVM_GET_SREGS = 0x8138ae83;
/** _IOW(KVMIO, 0x84, struct kvm_sregs). */
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_GET_STATS_FD = 0xaece;

export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_BINARY_STATS_FD = 203;

/** kvm_run.exit_reason values the run loop knows by name. */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  INTERNAL_ERROR: 17,
} as const;

export function exitReasonName(reason: number): string {
  for (const [name, value] of Object.entries(KVM_EXIT)) if (value === reason) return name;
  return `exit ${reason}`;
}

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** struct kvm_run offsets (x86_64) shared by the run loops. */
export const KVM_RUN_IMMEDIATE_EXIT = 1;
export const KVM_RUN_EXIT_REASON = 8;
/** Start of the exit-specific union. */
export const KVM_RUN_UNION = 32;
/** kvm_run.internal (KVM_EXIT_INTERNAL_ERROR): suberror u32, ndata u32, data u64[16]. */
export const KVM_RUN_INTERNAL_SUBERROR = KVM_RUN_UNION;
/** kvm_run.fail_entry (KVM_EXIT_FAIL_ENTRY): hardware_entry_failure_reason u64, cpu u32. */
export const KVM_RUN_FAIL_ENTRY_REASON = KVM_RUN_UNION;
