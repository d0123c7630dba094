/**
 * The KVM backend: each domain is a KVM VM with guest RAM at guest physical 0, the workload's
 * image at GUEST_LOAD_ADDRESS and its vCPUs in 32-bit protected mode, each run by its own worker
 * thread. The host thread owns every fd (VM, vCPUs, stats fds — kept open for tools) and the one
 * mapping of each kvm_run, which it uses to kick vCPUs (immediate_exit + a real-time signal) and
 * which the worker borrows; so the VM goes with release(), whether its workers ended on their own
 * or had to be terminated.
 */

import { ClosedError } from '../errors.ts';
import type { GuestImage } from '../kvm/build-guest.ts';
import { KVM_RUN_IMMEDIATE_EXIT } from '../kvm/constants.ts';
import { installKickHandler, kickThread } from '../kvm/kick.ts';
import { enterProtectedMode } from '../kvm/protected-mode.ts';
import { DEFAULT_KVM_PATH, KvmSystem } from '../kvm/system.ts';
import type { Vm } from '../kvm/vm.ts';
import type { Backend, DomainRuntime } from './backend.ts';
import { type CheckedDomainConfig, checkDomainConfig, type VmmDomainConfig } from './domain-options.ts';
import { entryRegisters, GUEST_LOAD_ADDRESS } from './guest-abi.ts';
import type { CallSink } from './guest-calls.ts';
import { kvmGuestMemory } from './guest-memory.ts';
import { buildWorkloadGuest, type GuestProgram } from './guests.ts';
import { LiveRuntimes } from './live-runtimes.ts';
import { checkRestore, loadKvmVcpu, writePages } from './restore.ts';
import { type VcpuPlatform, WorkerDomainRuntime } from './worker-runtime.ts';

export interface KvmBackendOptions {
  kvmPath?: string;
  /** The dispatcher serving hypercalls of every domain (a domain's `calls` overrides it). */
  calls?: CallSink;
}

export class KvmBackend implements Backend {
  readonly kind = 'kvm' as const;
  readonly #kvm: KvmSystem;
  readonly #calls: CallSink | undefined;
  readonly #images = new Map<GuestProgram, GuestImage>();
  readonly #domains = new LiveRuntimes();
  #closed = false;

  private constructor(kvm: KvmSystem, calls: CallSink | undefined) {
    this.#kvm = kvm;
    this.#calls = calls;
  }

  /** Opens /dev/kvm (KvmError/SyscallError when unusable) and installs the kick signal handler. */
  static open(options: KvmBackendOptions = {}): KvmBackend {
    installKickHandler();
    const kvm = KvmSystem.open(options.kvmPath ?? DEFAULT_KVM_PATH);
    return new KvmBackend(kvm, options.calls);
  }

  async createDomain(config: VmmDomainConfig): Promise<DomainRuntime> {
    if (this.#closed) throw new ClosedError('KVM backend');
    const checked = checkDomainConfig(config);
    const { program, rounds, arg, batchBudget } = checked;
    let image = this.#images.get(program);
    if (!image) {
      image = buildWorkloadGuest(program);
      this.#images.set(program, image);
    }
    const platform = kvmDomainPlatform(this.#kvm, config, checked, image);
    let runtime: WorkerDomainRuntime;
    try {
      runtime = await WorkerDomainRuntime.create(
        config,
        {
          program,
          rounds,
          arg,
          statsRevision: config.statsRevision,
          ...(config.restore ? { restore: config.restore.vcpus } : {}),
          ...callOptions(config.calls ?? this.#calls, batchBudget),
        },
        platform,
      );
    } catch (err) {
      platform.release();
      throw err;
    }
    this.#domains.add(runtime);
    return runtime;
  }

  /** The live runtime of domain `domid` (save/restore captures through it). */
  domainRuntime(domid: number): WorkerDomainRuntime | undefined {
    return this.#domains.find(domid);
  }

  /** Domains created and not yet fully destroyed. */
  get liveDomains(): number {
    return this.#domains.size;
  }

  /** Destroys every domain still alive, then closes /dev/kvm (also when a domain's teardown failed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#domains.destroyAll();
    } finally {
      this.#kvm.close();
    }
  }
}

/** The runtime's hypercall options, without undefined members. */
export function callOptions(calls: CallSink | undefined, batchBudget: number | undefined) {
  return { ...(calls ? { calls } : {}), ...(batchBudget === undefined ? {} : { batchBudget }) };
}

/**
 * Domain `config`'s VM — guest RAM holding the program's image (or the restored pages), its vCPUs
 * in protected mode (or their restored registers), stats fds open for tools — and the platform a
 * runtime drives it through; release() closes the VM (idempotent). Tests wrap it to inject failures.
 */
export function kvmDomainPlatform(
  kvm: KvmSystem,
  config: VmmDomainConfig,
  { rounds, arg }: CheckedDomainConfig,
  image: GuestImage,
): VcpuPlatform {
  const vm = kvm.createVm();
  try {
    const ram = vm.addMemory(0n, config.memoryMiB * 1024 * 1024);
    if (config.restore) {
      checkRestore(config.restore, 'kvm', config.vcpus);
      writePages(kvmGuestMemory(ram), config.restore);
    } else ram.write(BigInt(GUEST_LOAD_ADDRESS), image.bytes);
    for (let i = 0; i < config.vcpus; i++) {
      const vcpu = vm.createVcpu(i);
      if (config.restore) loadKvmVcpu(vcpu, config.restore.vcpus[i]!);
      else enterProtectedMode(vcpu, GUEST_LOAD_ADDRESS, entryRegisters(i, rounds, arg, config.memoryMiB * 1024));
      void vcpu.statsFd; // opened now, kept open for tools until destroy
    }
    void vm.statsFd;
  } catch (err) {
    vm.close();
    throw err;
  }
  return vmPlatform(vm);
}

function vmPlatform(vm: Vm): VcpuPlatform {
  let released = false;
  return {
    kind: 'kvm' as const,
    workerData(i: number) {
      const vcpu = vm.vcpus[i]!;
      // The worker borrows the host's fd and kvm_run mapping (Vcpu.borrow): the host thread owns
      // everything of the VM, so releasing it needs nothing from a worker that was terminated.
      return { kvm: { vcpuFd: vcpu.fd, run: vcpu.runArea, statsFd: vcpu.statsFd } };
    },
    memory() {
      return kvmGuestMemory(vm.memory[0]!);
    },
    kick(i: number, tid: number) {
      if (released) return;
      // immediate_exit covers a vCPU between its last look at the command word and KVM_RUN; the
      // signal covers one inside KVM_RUN (see src/kvm/kick.ts).
      Atomics.store(vm.vcpus[i]!.run, KVM_RUN_IMMEDIATE_EXIT, 1);
      kickThread(tid);
    },
    kvmStatsFds() {
      return released ? { vcpus: [] } : { vm: vm.statsFd, vcpus: vm.vcpus.map((v) => v.statsFd) };
    },
    release() {
      released = true;
      vm.close();
    },
  };
}
