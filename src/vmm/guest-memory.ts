/**
 * How the host thread reads and writes a domain's guest physical memory (for call batches):
 * through the KVM memory slot's mapping, or through the simulated guest's SharedArrayBuffer.
 * Every access is bounds-checked; the caller copies what it reads before it looks at it.
 */
import type { GuestMemory } from '../kvm/memory.ts';

export interface GuestMemoryAccess {
  /** Bytes of guest memory starting at guest physical 0. */
  readonly size: number;
  /** Copies guest bytes [gpa, gpa + into.length) into `into`. RangeError outside memory. */
  read(gpa: number, into: Uint8Array): void;
  /** Copies `from` to guest bytes [gpa, gpa + from.length). RangeError outside memory. */
  write(gpa: number, from: Uint8Array): void;
}

function check(gpa: number, length: number, size: number): void {
  if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa + length > size) {
    throw new RangeError(`guest range 0x${gpa.toString(16)}+${length} is outside guest memory (${size} bytes)`);
  }
}

/** A KVM memory slot at guest physical 0 (the host thread's mapping). */
export function kvmGuestMemory(slot: GuestMemory): GuestMemoryAccess {
  if (slot.guestPhysAddr !== 0n) throw new RangeError('guest memory access expects the slot at guest physical 0');
  const size = slot.size;
  return {
    size,
    read(gpa, into) {
      check(gpa, into.length, size);
      into.set(slot.read(BigInt(gpa), into.length));
    },
    write(gpa, from) {
      check(gpa, from.length, size);
      slot.write(BigInt(gpa), from);
    },
  };
}

/** Memory of a simulated guest: a SharedArrayBuffer its worker also maps. */
export function sharedGuestMemory(buffer: SharedArrayBuffer): GuestMemoryAccess {
  const bytes = new Uint8Array(buffer);
  const size = bytes.length;
  return {
    size,
    read(gpa, into) {
      check(gpa, into.length, size);
      into.set(bytes.subarray(gpa, gpa + into.length));
    },
    write(gpa, from) {
      check(gpa, from.length, size);
      bytes.set(from, gpa);
    },
  };
}
