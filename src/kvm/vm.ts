/**
 * A VM: its fd, guest memory slots, vCPUs and its binary stats fd. close() releases all of them.
 */
import { ClosedError } from '../errors.ts';
import { close, ioctl } from '../os/libc.ts';
import { releaseAll } from './cleanup.ts';
import { KVM_CREATE_VCPU, KVM_GET_STATS_FD, KVM_SET_TSS_ADDR } from './constants.ts';
import { GuestMemory } from './memory.ts';
import { Vcpu } from './vcpu.ts';

/**
 * Intel VMX without "unrestricted guest" emulates real mode through a TSS that KVM places in guest
 * physical memory; give it three pages just below 4 GiB, far from any guest RAM hvkit maps.
 * Harmless on AMD and on CPUs that never need it.
 */
const TSS_ADDRESS = 0xfffb_d000;

export class Vm {
  private readonly vcpuList: Vcpu[] = [];
  private readonly memoryList: GuestMemory[] = [];
  private statsFdValue: number | undefined;
  private closed = false;

  private constructor(
    readonly fd: number,
    private readonly vcpuMmapSize: number,
  ) {}

  /** Wraps an fd returned by KVM_CREATE_VM; `vcpuMmapSize` comes from KVM_GET_VCPU_MMAP_SIZE. */
  static adopt(fd: number, vcpuMmapSize: number): Vm {
    try {
      ioctl(fd, KVM_SET_TSS_ADDR, TSS_ADDRESS, 'KVM_SET_TSS_ADDR');
    } catch (err) {
      close(fd);
      throw err;
    }
    return new Vm(fd, vcpuMmapSize);
  }

  get vcpus(): readonly Vcpu[] {
    return this.vcpuList;
  }

  get memory(): readonly GuestMemory[] {
    return this.memoryList;
  }

  /** Maps `size` bytes of anonymous memory at guest physical address `gpa` in the next free slot. */
  addMemory(gpa: bigint, size: number): GuestMemory {
    this.assertOpen();
    const mem = GuestMemory.register(this.fd, this.memoryList.length, gpa, size);
    this.memoryList.push(mem);
    return mem;
  }

  /** Creates vCPU `id` (default: the next index). */
  createVcpu(id = this.vcpuList.length): Vcpu {
    this.assertOpen();
    const fd = ioctl(this.fd, KVM_CREATE_VCPU, id, `KVM_CREATE_VCPU ${id}`);
    const vcpu = Vcpu.adopt(id, fd, this.vcpuMmapSize);
    this.vcpuList.push(vcpu);
    return vcpu;
  }

  /** The VM's binary stats fd, opened on first use and owned by the VM (closed by close()). */
  get statsFd(): number {
    this.assertOpen();
    this.statsFdValue ??= ioctl(this.fd, KVM_GET_STATS_FD, 0, 'KVM_GET_STATS_FD (vm)');
    return this.statsFdValue;
  }

  /**
   * Closes vCPUs, stats fds and the VM fd, then unmaps guest memory (after the VM fd, so no vCPU can
   * touch it any more). Idempotent; every step runs even if one fails.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const statsFd = this.statsFdValue;
    this.statsFdValue = undefined;
    releaseAll([
      ...this.vcpuList.map((v) => () => v.close()),
      () => statsFd !== undefined && close(statsFd),
      () => close(this.fd),
      ...this.memoryList.map((m) => () => m.close()),
    ]);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('VM');
  }
}
