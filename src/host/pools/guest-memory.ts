/**
 * How the pool service reaches a domain's memory: by guest-physical address, from the host
 * thread. The KVM backend's GuestMemory (src/kvm/memory.ts) already has exactly this shape
 * (its RAM slot at guest physical 0); the VMM side has to hand it to the host per domain
 * (see the report: DomainRuntime does not expose it yet). Tests and the simulated backend use
 * ArrayGuestMemory.
 */
export interface GuestMemoryAccess {
  /** Copies `length` bytes at `gpa` out of the guest; throws RangeError outside guest memory. */
  read(gpa: bigint, length: number): Uint8Array;
  /** Copies `data` into the guest at `gpa`; throws RangeError outside guest memory. */
  write(gpa: bigint, data: Uint8Array): void;
}

/** Guest memory as a plain byte array at guest physical 0 (tests, simulated guests). */
export class ArrayGuestMemory implements GuestMemoryAccess {
  readonly bytes: Uint8Array;

  constructor(size: number | Uint8Array) {
    this.bytes = typeof size === 'number' ? new Uint8Array(size) : size;
  }

  read(gpa: bigint, length: number): Uint8Array {
    const at = this.#offset(gpa, length);
    return this.bytes.slice(at, at + length);
  }

  write(gpa: bigint, data: Uint8Array): void {
    this.bytes.set(data, this.#offset(gpa, data.length));
  }

  #offset(gpa: bigint, length: number): number {
    if (gpa < 0n || gpa + BigInt(length) > BigInt(this.bytes.length)) {
      throw new RangeError(`guest range 0x${gpa.toString(16)}+${length} is outside guest memory`);
    }
    return Number(gpa);
  }
}

/** The shape of the VMM's guest memory accessor (src/vmm/guest-memory.ts): into/from buffers, number addresses. */
export interface VmmGuestMemory {
  read(gpa: number, into: Uint8Array): void;
  write(gpa: number, from: Uint8Array): void;
}

/** Adapts the VMM's accessor to the pool service's (one page copy per call either way). */
export function fromVmmMemory(vmm: VmmGuestMemory): GuestMemoryAccess {
  const at = (gpa: bigint) => {
    if (gpa > BigInt(Number.MAX_SAFE_INTEGER))
      throw new RangeError(`guest address 0x${gpa.toString(16)} is out of range`);
    return Number(gpa);
  };
  return {
    read(gpa, length) {
      const out = new Uint8Array(length);
      vmm.read(at(gpa), out);
      return out;
    },
    write(gpa, data) {
      vmm.write(at(gpa), data);
    },
  };
}
