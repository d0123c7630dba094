/**
 * A domain whose vCPUs run in worker threads (one each), for both backends: spawning the workers,
 * the run/pause/stop commands over the control block, kicking vCPUs out of the guest, relaying
 * their events, and tearing everything down. What differs per backend (the CPU, how to kick it,
 * what to release) comes in a VcpuPlatform.
 */
import type { Worker } from 'node:worker_threads';
import { InternalError, UsageError } from '../errors.ts';
import type { VcpuState } from '../formats/stream/image.ts';
import type { Mapping } from '../os/libc.ts';
import type { BackendKind, DomainConfig, DomainEvent, DomainRunState, DomainRuntime } from './backend.ts';
import { CMD, createControlBuffer, STATE, VcpuControl } from './control.ts';
import { type CallSink, GuestCallService } from './guest-calls.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';
import type { GuestProgram } from './guests.ts';
import { createSnapshotBuffer, SnapshotSlot } from './snapshot-slot.ts';
import { mapStatsTable, unmapStatsTable } from './stats-mapping.ts';
import { startTsWorker } from './ts-worker.ts';
import type { VcpuWorkerData } from './worker-data.ts';

export interface VcpuPlatform {
  readonly kind: BackendKind;
  /** The backend-specific part of vCPU i's worker data. */
  workerData(vcpu: number): Pick<VcpuWorkerData, 'kvm' | 'simMemory'>;
  /** Guest memory as the host thread sees it (for call batches). */
  memory(): GuestMemoryAccess;
  /** Forces vCPU i (running on host thread `tid`) out of the guest, if it is inside. */
  kick(vcpu: number, tid: number): void;
  kvmStatsFds(): { vm?: number; vcpus: number[] };
  /** Releases the backend's resources; called once, after every worker has exited. */
  release(): void;
}

export interface RuntimeOptions {
  program: GuestProgram;
  rounds: number;
  /** The program's configuration word (EDX at entry). */
  arg: number;
  statsRevision: number;
  /** The host's dispatcher for the guest's hypercalls (absent: they answer unknown_family). */
  calls?: CallSink;
  /** Most batch entries one flush processes (default: a whole batch). */
  batchBudget?: number;
  /** Save/restore: the vCPU states to continue from, indexed by vCPU (KVM registers are set by the backend). */
  restore?: VcpuState[];
}

/** How long captureState waits for a vCPU that is still booting. */
const CAPTURE_WAIT_MS = 5000;

/** A restored vCPU's worker data: run state, device model, simulated guest state. */
function restoreData(state: VcpuState | undefined): Pick<VcpuWorkerData, 'restore'> {
  if (!state) return {};
  return {
    restore: {
      parked: state.parked,
      devices: state.devices,
      ...(state.cpu.kind === 'sim' ? { sim: state.cpu.sim } : {}),
    },
  };
}

/** How often a host waiting for vCPUs to leave the guest repeats its kick (a lost race costs one period). */
const REKICK_MS = 20;
/** A worker that has not exited this long after the stop request is terminated. */
const EXIT_GRACE_MS = 5000;

const WORKER_SCRIPT = new URL('./vcpu-worker.ts', import.meta.url);

interface VcpuThread {
  worker: Worker;
  control: VcpuControl;
  tid: number;
  exited: boolean;
  exit: Promise<void>;
}

export class WorkerDomainRuntime implements DomainRuntime {
  readonly backend: BackendKind;
  #state: DomainRunState = 'created';
  readonly #threads: VcpuThread[];
  readonly #listeners: ((event: DomainEvent) => void)[] = [];
  readonly #calls: GuestCallService;
  #destroying: Promise<void> | undefined;
  #markDestroyed!: () => void;
  /** Settles once destroy() has finished (successfully or not): the backend forgets the runtime then. */
  readonly destroyed = new Promise<void>((resolve) => {
    this.#markDestroyed = resolve;
  });
  /** Snapshot slots the paused vCPUs fill (save/restore). */
  #snapshots: SharedArrayBuffer | undefined;
  /** The stats table, mapped once here for every worker (stats-mapping.ts). */
  #stats: Mapping | undefined;

  private constructor(
    readonly config: DomainConfig,
    private readonly platform: VcpuPlatform,
    threads: VcpuThread[],
    calls: GuestCallService,
  ) {
    this.backend = platform.kind;
    this.#threads = threads;
    this.#calls = calls;
  }

  /**
   * Starts one worker per vCPU and waits until each has attached to the stats table and built
   * its CPU. On failure every worker is ended and the platform released before the error is thrown.
   */
  static async create(
    config: DomainConfig,
    options: RuntimeOptions,
    platform: VcpuPlatform,
  ): Promise<WorkerDomainRuntime> {
    const buffer = createControlBuffer(config.vcpus);
    const snapshots = createSnapshotBuffer(config.vcpus);
    if (options.restore && options.restore.length !== config.vcpus) {
      throw new UsageError(`restore: ${options.restore.length} vCPU states for ${config.vcpus} vCPUs`);
    }
    const calls = new GuestCallService({
      domid: config.domid,
      vcpus: config.vcpus,
      memory: platform.memory(),
      ...(options.calls ? { sink: options.calls } : {}),
      ...(options.batchBudget !== undefined ? { batchBudget: options.batchBudget } : {}),
    });
    let stats: Mapping;
    try {
      stats = mapStatsTable(config.statsRegion);
    } catch (err) {
      await calls.close();
      throw err;
    }
    const threads: VcpuThread[] = [];
    const early: DomainEvent[] = [];
    let runtime: WorkerDomainRuntime | undefined;
    const emit = (event: DomainEvent) => (runtime ? runtime.#emit(event) : early.push(event));
    const ready: Promise<void>[] = [];
    // The runtime exists before the first worker does, so a failure while starting them (not only
    // while waiting for them) ends the workers already started and releases the platform.
    const made = new WorkerDomainRuntime(config, platform, threads, calls);
    made.#snapshots = snapshots;
    made.#stats = stats;
    try {
      for (let vcpu = 0; vcpu < config.vcpus; vcpu++) {
        const data: VcpuWorkerData = {
          vcpu,
          program: options.program,
          rounds: options.rounds,
          arg: options.arg,
          mailbox: calls.mailbox,
          statsRegion: config.statsRegion,
          statsArea: { address: stats.address, length: stats.length },
          statsRevision: options.statsRevision,
          control: buffer,
          snapshot: snapshots,
          ...restoreData(options.restore?.[vcpu]),
          ...platform.workerData(vcpu),
        };
        const worker = startTsWorker(
          WORKER_SCRIPT,
          data as unknown as Record<string, unknown>,
          `${config.name}/vcpu${vcpu}`,
        );
        const thread: VcpuThread = {
          worker,
          control: new VcpuControl(buffer, vcpu),
          tid: 0,
          exited: false,
          exit: new Promise((resolve) => worker.once('exit', () => resolve())),
        };
        thread.exit.then(() => {
          thread.exited = true;
        });
        ready.push(
          new Promise<void>((resolve, reject) => {
            worker.on('message', (m: { type: string; tid?: number; event?: DomainEvent }) => {
              if (m.type === 'ready') {
                thread.tid = m.tid ?? 0;
                resolve();
              } else if (m.type === 'event' && m.event) emit(m.event);
            });
            worker.on('error', (err) => {
              reject(err);
              emit({ kind: 'crashed', vcpu, reason: `vCPU worker failed: ${err.message}`, registers: {} });
            });
            thread.exit.then(() => reject(new InternalError(`vCPU ${vcpu} worker exited before it was ready`)));
          }),
        );
        threads.push(thread);
      }
      await Promise.all(ready);
    } catch (err) {
      // Workers started before a synchronous failure end without being ready: their outcome is
      // moot now (err is what went wrong), but must not surface as unhandled rejections.
      void Promise.allSettled(ready);
      await made.destroy();
      throw err;
    }
    runtime = made;
    for (const event of early) made.#emit(event);
    return made;
  }

  /** Guest memory as the host thread sees it (save/restore, call batches). */
  guestMemory(): GuestMemoryAccess {
    return this.platform.memory();
  }

  /**
   * Every vCPU's state, as each worker left it when it last stopped running (settled, with its
   * device model). Only while the domain is paused or not yet started: a running vCPU's state
   * is not stable. Throws when a vCPU cannot be captured (a simulated program without a
   * resumable form) or does not answer.
   */
  async captureState(): Promise<VcpuState[]> {
    this.#expect('capture the state of', ['paused', 'created']);
    const out: VcpuState[] = [];
    for (const [vcpu, t] of this.#threads.entries()) {
      // A worker publishes before it reports its first wait; a fresh one may still be booting.
      const deadline = Date.now() + CAPTURE_WAIT_MS;
      while (t.control.state === STATE.BOOTING && !t.exited && Date.now() < deadline) {
        await t.control.waitStateChange(STATE.BOOTING, REKICK_MS);
      }
      const content = new SnapshotSlot(this.#snapshots!, vcpu).read();
      if (!content) throw new InternalError(`vCPU ${vcpu} has not published its state`);
      if ('error' in content) throw new UsageError(`vCPU ${vcpu} cannot be captured: ${content.error}`);
      out.push(content.state);
    }
    return out;
  }

  get state(): DomainRunState {
    return this.#state;
  }

  onEvent(listener: (event: DomainEvent) => void): void {
    this.#listeners.push(listener);
  }

  kvmStatsFds(): { vm?: number; vcpus: number[] } {
    return this.#state === 'destroyed' ? { vcpus: [] } : this.platform.kvmStatsFds();
  }

  async start(): Promise<void> {
    this.#expect('start', ['created']);
    this.#send(CMD.RUN);
    this.#state = 'running';
  }

  async pause(): Promise<void> {
    this.#expect('pause', ['running', 'paused']);
    if (this.#state === 'paused') return;
    await this.#command(CMD.PAUSE, [STATE.PAUSED, STATE.PARKED, STATE.STOPPED]);
    this.#state = 'paused';
  }

  async unpause(): Promise<void> {
    this.#expect('unpause', ['paused', 'running']);
    if (this.#state === 'running') return;
    this.#send(CMD.RUN);
    this.#state = 'running';
  }

  async stop(): Promise<void> {
    this.#expect('stop', ['created', 'running', 'paused', 'stopped']);
    if (this.#state === 'stopped') return;
    await this.#command(CMD.STOP, [STATE.STOPPED]);
    this.#state = 'stopped';
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    // The grace period runs from the stop request, not from its acknowledgement: a worker that
    // never reports STOPPED (stuck while starting, a lost kick) is terminated all the same, so
    // destroy — and with it a host's stop — can never wait forever.
    const timers = this.#threads.map((t) => setTimeout(() => void t.worker.terminate(), EXIT_GRACE_MS));
    // Every step runs whatever the one before did: the stats mapping and the platform (VM
    // descriptors, kvm_run mappings) are released once the workers are gone, even when the stop
    // command or closing the calls failed; the first failure is thrown after. The workers hold
    // none of these (they borrow the host's), so a worker that had to be terminated, and ran no
    // cleanup of its own, leaves nothing behind.
    let failure: unknown;
    try {
      await this.#command(CMD.STOP, [STATE.STOPPED]);
    } catch (e) {
      failure = e;
      for (const t of this.#threads) void t.worker.terminate();
    }
    await Promise.all(this.#threads.map((t) => t.exit));
    for (const timer of timers) clearTimeout(timer);
    this.#state = 'destroyed';
    try {
      await this.#calls.close();
    } catch (e) {
      failure ??= e;
    }
    try {
      if (this.#stats) unmapStatsTable(this.#stats);
    } catch (e) {
      failure ??= e;
    }
    try {
      this.platform.release();
    } catch (e) {
      failure ??= e;
    }
    this.#markDestroyed();
    if (failure !== undefined) throw failure;
  }

  #expect(op: string, states: DomainRunState[]): void {
    if (this.#destroying) throw new UsageError(`domain ${this.config.domid}: cannot ${op}, it is being destroyed`);
    if (!states.includes(this.#state)) {
      throw new UsageError(`domain ${this.config.domid}: cannot ${op} in state ${this.#state}`);
    }
  }

  #emit(event: DomainEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #send(cmd: number): void {
    for (const t of this.#threads) t.control.send(cmd);
  }

  /** Sends `cmd`, kicks every vCPU and waits until each reports one of `done` (or has exited). */
  async #command(cmd: number, done: number[]): Promise<void> {
    this.#send(cmd);
    await Promise.all(
      this.#threads.map(async (t, vcpu) => {
        for (;;) {
          if (t.exited) return;
          const state = t.control.state;
          if (done.includes(state)) return;
          if (t.tid !== 0) this.platform.kick(vcpu, t.tid);
          await Promise.race([t.control.waitStateChange(state, REKICK_MS), t.exit]);
        }
      }),
    );
  }
}
