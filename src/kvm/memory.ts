/**
 * Guest physical memory: anonymous host memory registered with a VM as one memory slot.
 */
import { ClosedError } from '../errors.ts';
import {
  ioctlBuf,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  type Mapping,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
} from '../os/libc.ts';
import { KVM_SET_USER_MEMORY_REGION } from './constants.ts';

const PAGE_SIZE = 4096;

/** struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr; } */
function encodeMemoryRegion(slot: number, guestPhysAddr: bigint, size: number, userspaceAddr: bigint): Uint8Array {
  const buf = new Uint8Array(32);
  const view = new DataView(buf.buffer);
  view.setUint32(0, slot, true);
  view.setUint32(4, 0, true);
  view.setBigUint64(8, guestPhysAddr, true);
  view.setBigUint64(16, BigInt(size), true);
  view.setBigUint64(24, userspaceAddr, true);
  return buf;
}

export class GuestMemory {
  private mapping: Mapping | undefined;

  private constructor(
    readonly slot: number,
    readonly guestPhysAddr: bigint,
    mapping: Mapping,
  ) {
    this.mapping = mapping;
  }

  /** Maps `size` bytes (rounded up to pages) and registers them at `guestPhysAddr` in slot `slot`. */
  static register(vmFd: number, slot: number, guestPhysAddr: bigint, size: number): GuestMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`guest memory size must be positive: ${size}`);
    if (guestPhysAddr % BigInt(PAGE_SIZE) !== 0n) throw new RangeError('guest physical address must be page aligned');
    const length = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const mapping = mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    try {
      ioctlBuf(
        vmFd,
        KVM_SET_USER_MEMORY_REGION,
        encodeMemoryRegion(slot, guestPhysAddr, length, mapping.address),
        'KVM_SET_USER_MEMORY_REGION',
      );
    } catch (err) {
      munmap(mapping);
      throw err;
    }
    return new GuestMemory(slot, guestPhysAddr, mapping);
  }

  get size(): number {
    return this.live().length;
  }

  /** Copies `data` into guest memory at guest physical address `gpa`. */
  write(gpa: bigint, data: Uint8Array): void {
    const at = this.offsetOf(gpa, data.length);
    this.live().bytes.set(data, at);
  }

  read(gpa: bigint, length: number): Uint8Array {
    const at = this.offsetOf(gpa, length);
    return this.live().bytes.slice(at, at + length);
  }

  /** Unmaps the host memory. Call only after the VM fd is closed (the slot then no longer exists). */
  close(): void {
    if (!this.mapping) return;
    const m = this.mapping;
    this.mapping = undefined;
    munmap(m);
  }

  private offsetOf(gpa: bigint, length: number): number {
    const m = this.live();
    const start = gpa - this.guestPhysAddr;
    if (start < 0n || start + BigInt(length) > BigInt(m.length)) {
      throw new RangeError(`guest range 0x${gpa.toString(16)}+${length} is outside slot ${this.slot}`);
    }
    return Number(start);
  }

  private live(): Mapping {
    if (!this.mapping) throw new ClosedError(`guest memory slot ${this.slot}`);
    return this.mapping;
  }
}
