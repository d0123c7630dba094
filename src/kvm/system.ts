/**
 * The KVM subsystem handle (/dev/kvm): API version and capability checks, VM creation.
 */

import { existsSync, openSync } from 'node:fs';
import { ClosedError } from '../errors.ts';
import { close, ioctl } from '../os/libc.ts';
import {
  KVM_API_VERSION,
  KVM_CAP_BINARY_STATS_FD,
  KVM_CAP_USER_MEMORY,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
} from './constants.ts';
import { KvmError } from './errors.ts';
import { Vm } from './vm.ts';

export const DEFAULT_KVM_PATH = '/dev/kvm';

export class KvmSystem {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly apiVersion: number,
    readonly vcpuMmapSize: number,
  ) {}

  /**
   * Opens /dev/kvm and checks what hvkit relies on: API version 12, user memory slots and binary
   * stats fds (KVM_CAP_BINARY_STATS_FD, Linux 5.14+). Throws KvmError naming what is missing.
   */
  static open(path = DEFAULT_KVM_PATH): KvmSystem {
    const fd = openSync(path, 'r+');
    try {
      const apiVersion = ioctl(fd, KVM_GET_API_VERSION, 0, 'KVM_GET_API_VERSION');
      if (apiVersion !== KVM_API_VERSION) {
        throw new KvmError(`${path}: KVM API version ${apiVersion}, hvkit needs ${KVM_API_VERSION}`);
      }
      for (const [cap, name] of [
        [KVM_CAP_USER_MEMORY, 'KVM_CAP_USER_MEMORY'],
        [KVM_CAP_BINARY_STATS_FD, 'KVM_CAP_BINARY_STATS_FD (Linux 5.14+)'],
      ] as const) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, cap, `KVM_CHECK_EXTENSION ${name}`) <= 0) {
          throw new KvmError(`${path}: KVM lacks ${name}`);
        }
      }
      const vcpuMmapSize = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0, 'KVM_GET_VCPU_MMAP_SIZE');
      return new KvmSystem(fd, apiVersion, vcpuMmapSize);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  checkExtension(cap: number): number {
    this.assertOpen();
    return ioctl(this.fd, KVM_CHECK_EXTENSION, cap, `KVM_CHECK_EXTENSION ${cap}`);
  }

  /** Creates an empty VM (no memory, no vCPUs). The VM stays valid after this handle is closed. */
  createVm(): Vm {
    this.assertOpen();
    return Vm.adopt(ioctl(this.fd, KVM_CREATE_VM, 0, 'KVM_CREATE_VM'), this.vcpuMmapSize);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('KVM handle');
  }
}

/** Why KVM cannot be used here, or undefined when /dev/kvm opens and has what hvkit needs. */
export function kvmUnavailableReason(path = DEFAULT_KVM_PATH): string | undefined {
  try {
    KvmSystem.open(path).close();
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return message.includes(path) ? message : `${path}: ${message}`;
  }
}

/** Vendor modules that implement /dev/kvm on x86; which one is loaded changes what some counters count. */
const VENDOR_MODULES = ['kvm_intel', 'kvm_amd', 'kvm_pvm'] as const;

/**
 * The KVM vendor module serving /dev/kvm (kvm_intel, kvm_amd, kvm_pvm), read from /sys/module;
 * undefined when none of the known ones is loaded.
 */
export function kvmVendorModule(): string | undefined {
  return VENDOR_MODULES.find((m) => existsSync(`/sys/module/${m}`));
}
