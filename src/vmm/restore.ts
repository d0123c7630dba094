/**
 * Creating a domain from a saved state (save/restore, migration): what a backend needs besides
 * the DomainConfig — each vCPU's state and the guest memory's non-zero pages — and the two steps
 * that are backend-specific: loading a KVM vCPU's registers, and filling guest memory.
 */
import { UsageError } from '../errors.ts';
import type { VcpuState } from '../formats/stream/image.ts';
import { decodeRegs, KVM_REGS_SIZE, KVM_SREGS_SIZE } from '../kvm/regs.ts';
import type { Vcpu } from '../kvm/vcpu.ts';
import type { BackendKind } from './backend.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';

export interface DomainRestore {
  /** Indexed by vCPU, one per vCPU of the domain. */
  vcpus: VcpuState[];
  /** The guest memory's non-zero pages (gpa, bytes); every other byte is zero. */
  pages(): Iterable<[gpa: number, data: Uint8Array]>;
}

/** Refuses a state the backend cannot continue (another CPU kind, a vCPU count mismatch). */
export function checkRestore(restore: DomainRestore, kind: BackendKind, vcpus: number): void {
  if (restore.vcpus.length !== vcpus)
    throw new UsageError(`restore: ${restore.vcpus.length} vCPU states for ${vcpus} vCPUs`);
  restore.vcpus.forEach((v, i) => {
    if (v.vcpu !== i) throw new UsageError(`restore: state ${i} belongs to vCPU ${v.vcpu}`);
    if (v.cpu.kind !== kind) {
      throw new UsageError(`restore: the image holds ${v.cpu.kind} vCPU state; this host's backend is ${kind}`);
    }
  });
}

/** Copies the saved pages into fresh (zero) guest memory. */
export function writePages(memory: GuestMemoryAccess, restore: DomainRestore): void {
  for (const [gpa, data] of restore.pages()) memory.write(gpa, data);
}

/** Loads a fresh KVM vCPU with saved registers: segments and control registers, then the general ones. */
export function loadKvmVcpu(vcpu: Vcpu, state: VcpuState): void {
  if (state.cpu.kind !== 'kvm') throw new UsageError(`vCPU ${state.vcpu}: not a KVM state`);
  const { regs, sregs } = state.cpu;
  if (regs.length * 8 !== KVM_REGS_SIZE || sregs.length !== KVM_SREGS_SIZE) {
    throw new UsageError(`vCPU ${state.vcpu}: kvm_regs/kvm_sregs have the wrong size`);
  }
  const raw = new Uint8Array(KVM_REGS_SIZE);
  const view = new DataView(raw.buffer);
  regs.forEach((r, i) => {
    view.setBigUint64(i * 8, r, true);
  });
  vcpu.setSregs(new Uint8Array(sregs));
  vcpu.setRegs(decodeRegs(raw));
}
