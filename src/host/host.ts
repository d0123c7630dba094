/**
 * The host: owns domains (create, pause, unpause, shutdown, destroy), their vCPUs and memory
 * through a Backend (real KVM or simulated), the lifecycle feed, the domain directory and the
 * domains' stats tables under /dev/shm.
 *
 * Creation: refuse a name the stats table cannot hold (more than 15 bytes of UTF-8, control
 * characters); reserve the lowest free domid and a unique id; create and initialise the stats
 * table region (newest frozen revision, identity words and name); createDomain on the backend; record the VM's
 * and vCPUs' KVM stats fds in the table; start the vCPUs (unless created paused); publish.
 * Nothing is published before the domain exists, and a failed creation leaves nothing behind.
 *
 * Every transition goes through the DomainTable, which updates the feed and — through its hook —
 * the directory, then listeners get a HostEvent. Operations on one domain run one at a time, in
 * call order; operations on different domains run concurrently.
 */

import { describeError, EnvironmentError, UsageError } from '../errors.ts';
import { shippedDomainDirectoryAbi } from '../formats/domstate/abi.ts';
import { DomainDirectoryWriter } from '../formats/domstate/writer.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import { type GroupWriter, StatsTableWriter } from '../formats/stats-table/writer.ts';
import { selfIdentity } from '../os/procfs.ts';
import type { Region } from '../shm/region.ts';
import { directoryRegionName, type HostIdentity, statsRegionName } from '../shm/region-names.ts';
import { createShmRegion } from '../shm/shm-file.ts';
import type { Backend, BackendKind, DomainConfig, DomainEvent, DomainRuntime, Workload } from '../vmm/backend.ts';
import type { VmmDomainConfig } from '../vmm/domain-options.ts';
import type { GuestMemoryAccess } from '../vmm/guest-memory.ts';
import { removeStaleRegions } from './cleanup.ts';
import { DomainTable } from './domain-table.ts';
import { type DomainState, type DomainStateInfo, LifecycleFeed } from './lifecycle.ts';
import { checkGuestLimits, type GuestLimits, guestLimits } from './limits.ts';
import type { UniqueIdAllocator } from './unique-id.ts';

export interface HostOptions {
  /**
   * The VMM the domains run on. The host never chooses it: the composition roots (the host
   * server, the demo, tests) do, e.g. with vmm/select.ts.
   */
  backend: Backend;
  /** Why this backend (shown by `hvkit host`); default "given by the caller". */
  backendReason?: string;
  /** Close the backend when the host stops (default false: whoever opened it closes it). */
  ownsBackend?: boolean;
  /** Remove stale regions of dead hosts at start (default true). */
  removeStale?: boolean;
  /** For tests: a fixed unique id sequence. */
  uniqueIds?: UniqueIdAllocator;
  /** Told when an event listener throws (default: one line on stderr); the host goes on. */
  onListenerError?: (error: unknown) => void;
  /** What one guest may take (default DEFAULT_GUEST_LIMITS); checked by every creation. */
  limits?: Partial<GuestLimits>;
}

export interface CreateDomainOptions {
  /** Default `dom<domid>`. At most 15 bytes of UTF-8 without control characters (the stats table holds it). */
  name?: string;
  vcpus: number;
  memoryMiB: number;
  workload: Workload;
  /** Create with the vCPUs not started (state paused); unpause starts them. */
  paused?: boolean;
  /** Options of hvkit's backends passed through (tests: another guest program, a round limit). */
  vmm?: Omit<VmmDomainConfig, keyof DomainConfig>;
}

export interface DomainInfo {
  domid: number;
  uniqueId: bigint;
  generation: number;
  name: string;
  vcpus: number;
  memoryMiB: number;
  workload: Workload;
  state: DomainState;
  /** Name under /dev/shm of the domain's stats table (removed when the domain is destroyed). */
  statsRegion: string;
  backend: BackendKind;
  /** KVM stats fds held open in this process (none for the sim backend). */
  kvmStatsFds: { vm?: number; vcpus: number[] };
  /** Why the guest stopped, once shut down (e.g. "requested", or the guest's reason). */
  shutdownReason?: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export type HostEventKind = 'created' | 'paused' | 'unpaused' | 'shutdown' | 'dying' | 'destroyed';

export type HostEvent =
  | { kind: HostEventKind; at: number; domain: DomainInfo; reason?: string }
  | { kind: 'guest'; at: number; domain: DomainInfo; event: DomainEvent }
  | { kind: 'error'; at: number; domain: DomainInfo; error: Error };

export type HostListener = (event: HostEvent) => void;

interface Domain {
  info: DomainInfo;
  runtime: DomainRuntime;
  stats: StatsTableWriter;
  /** The vCPUs were started once (a domain created paused has not). */
  started: boolean;
  /** Creation was published (until then the domain is invisible and events wait). */
  published: boolean;
  /** Tail of this domain's operation queue. */
  queue: Promise<unknown>;
}

export class Host {
  readonly identity: HostIdentity;
  readonly feed: LifecycleFeed;
  readonly backend: Backend;
  /** Why this backend: `selectBackend()`'s reason, or "given by the caller". */
  readonly backendReason: string;
  /** Name under /dev/shm of the domain directory. */
  readonly directoryRegion: string;
  /** Stale regions of dead hosts removed at start. */
  readonly removedStale: readonly string[];
  /** What one guest may take: created, restored and migrated-in domains alike. */
  readonly limits: GuestLimits;
  readonly #table: DomainTable;
  readonly #directory: DomainDirectoryWriter;
  readonly #domains = new Map<number, Domain>();
  readonly #listeners = new Set<HostListener>();
  readonly #ownsBackend: boolean;
  #stopping: Promise<void> | undefined;
  readonly #creating = new Set<Promise<DomainInfo>>();
  readonly #onListenerError: (error: unknown) => void;

  private constructor(
    options: HostOptions,
    backend: { backend: Backend; reason: string; owned: boolean },
    identity: HostIdentity,
    removed: string[],
  ) {
    this.identity = identity;
    this.#onListenerError =
      options.onListenerError ??
      ((e) => process.stderr.write(`hvkit: a host event listener failed: ${e instanceof Error ? e.message : e}\n`));
    this.limits = guestLimits(options.limits);
    this.backend = backend.backend;
    this.backendReason = backend.reason;
    this.#ownsBackend = options.ownsBackend ?? backend.owned;
    this.removedStale = removed;
    this.directoryRegion = directoryRegionName(identity);
    const abi = shippedDomainDirectoryAbi();
    const region = createShmRegion(this.directoryRegion, DomainDirectoryWriter.plan(abi).regionSize);
    try {
      this.#directory = DomainDirectoryWriter.create(region, abi, {
        ownerPid: identity.pid,
        ownerStartTime: identity.startTime,
      });
    } catch (e) {
      region.close();
      throw e;
    }
    this.feed = new LifecycleFeed();
    this.#table = new DomainTable(this.feed, {
      ...(options.uniqueIds ? { uniqueIds: options.uniqueIds } : {}),
      onPublish: (info) => this.#publishDirectory(info),
    });
  }

  /**
   * Starts a host in this process (one per process: the region names carry the pid): removes
   * stale regions of dead hosts, publishes the directory, opens the backend unless given.
   */
  static start(options: HostOptions): Host {
    // Checked before anything is created or removed.
    guestLimits(options.limits);
    const removed = options.removeStale === false ? [] : removeStaleRegions();
    const identity = selfIdentity();
    const reason = options.backendReason ?? 'given by the caller';
    return new Host(options, { backend: options.backend, reason, owned: false }, identity, removed);
  }

  /** Registers a listener; returns a function that removes it. */
  on(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(): DomainInfo[] {
    return [...this.#domains.values()]
      .filter((d) => d.published)
      .map((d) => this.#snapshot(d))
      .sort((a, b) => a.domid - b.domid);
  }

  /** A live domain's guest memory as this thread sees it, when its backend exposes it. */
  guestMemory(domid: number): GuestMemoryAccess | undefined {
    return this.#domains.get(domid)?.runtime.guestMemory?.();
  }

  /**
   * The writer of a domain-wide group of the domain's stats table (e.g. `pool`), when the table's
   * revision has that group: a service of this host writes its own group through the host's
   * writer rather than mapping the table a second time by name. The group must have this one
   * writer; the handle goes dead when the domain is destroyed (services leave at `dying`).
   */
  statsGroup(domid: number, group: string): GroupWriter | undefined {
    const d = this.#domains.get(domid);
    if (!d) throw new UsageError(`no domain ${domid}`);
    return d.stats.model.dom.some((g) => g.name === group) ? d.stats.dom(group) : undefined;
  }

  /** A copy of the domain's stats table as it is now, with the revision it is written at. */
  statsCopy(domid: number): { revision: number; data: Uint8Array } {
    const d = this.#domains.get(domid);
    if (!d) throw new UsageError(`no domain ${domid}`);
    return { revision: d.stats.layout.revision, data: d.stats.region.bytes.slice() };
  }

  domain(domid: number): DomainInfo | undefined {
    const d = this.#domains.get(domid);
    return d?.published ? this.#snapshot(d) : undefined;
  }

  /**
   * Creates a domain. A creation in flight is tracked so that stop() waits for it (and then
   * destroys its domain) instead of closing the backend under it.
   */
  createDomain(options: CreateDomainOptions): Promise<DomainInfo> {
    if (this.#stopping) return Promise.reject(new UsageError('the host is stopping'));
    const creation = this.#createDomain(options);
    this.#creating.add(creation);
    const untrack = () => this.#creating.delete(creation);
    creation.then(untrack, untrack);
    return creation;
  }

  async #createDomain(options: CreateDomainOptions): Promise<DomainInfo> {
    const abi = shippedStatsTableAbi();
    // A name the stats table cannot hold is refused before anything is reserved or created.
    if (options.name !== undefined) StatsTableWriter.checkIdentity(abi, { name: options.name });
    checkGuestLimits(this.limits, options);
    const { domid, uniqueId, generation } = this.#table.reserve();
    const name = options.name ?? `dom${domid}`;
    const statsRegion = statsRegionName(this.identity, domid, uniqueId);
    let region: Region | undefined;
    let runtime: DomainRuntime | undefined;
    /** The domain's description once it exists (for reporting a failed clean-up). */
    let described: DomainInfo | undefined;
    try {
      const plan = { nrVcpus: options.vcpus };
      region = createShmRegion(statsRegion, StatsTableWriter.plan(abi, plan).regionSize);
      const stats = StatsTableWriter.create(region, abi, plan);
      stats.setIdentity({
        domid,
        uniqueId,
        ownerPid: this.identity.pid,
        ownerStartTime: this.identity.startTime,
        vmStatsFd: null,
        name,
      });
      runtime = await this.backend.createDomain({
        ...options.vmm,
        domid,
        uniqueId,
        name,
        vcpus: options.vcpus,
        memoryMiB: options.memoryMiB,
        workload: options.workload,
        statsRegion,
        statsRevision: abi.revision,
      });
      // The VM's stats fd is the host's to publish; each vCPU worker publishes its own fd and tid.
      const fds = runtime.kvmStatsFds();
      if (fds.vm !== undefined) stats.setIdentity({ vmStatsFd: fds.vm });
      const domain: Domain = {
        info: {
          domid,
          uniqueId,
          generation,
          name,
          vcpus: options.vcpus,
          memoryMiB: options.memoryMiB,
          workload: options.workload,
          state: options.paused ? 'paused' : 'running',
          statsRegion,
          backend: runtime.backend,
          kvmStatsFds: { ...(fds.vm === undefined ? {} : { vm: fds.vm }), vcpus: [...fds.vcpus] },
          createdAt: Date.now(),
        },
        runtime,
        stats,
        started: false,
        published: false,
        queue: Promise.resolve(),
      };
      described = domain.info;
      // Guest events queue behind the rest of the creation (they may come as soon as vCPUs run).
      let created!: () => void;
      domain.queue = new Promise<void>((resolve) => {
        created = resolve;
      });
      this.#domains.set(domid, domain);
      runtime.onEvent((event) => this.#onGuestEvent(domain, event));
      try {
        if (!options.paused) {
          await runtime.start();
          domain.started = true;
        }
        domain.published = true;
        this.#transition(domain, domain.info.state, 'created');
      } finally {
        created();
      }
      return this.#snapshot(domain);
    } catch (e) {
      this.#domains.delete(domid);
      let leftover: Error | undefined;
      try {
        await runtime?.destroy();
      } catch (undo) {
        // The half-created guest may live on: never dropped silently. Listeners hear it when the
        // domain was already described; otherwise the caller does, with the failure.
        if (described) this.#emit({ kind: 'error', at: Date.now(), domain: { ...described }, error: undo as Error });
        else {
          leftover = new EnvironmentError(
            `creating domain ${domid} failed (${describeError(e)}) and its half-created guest could not be destroyed: ${describeError(undo)}`,
            { cause: e },
          );
        }
      }
      region?.close();
      // Only a reservation nobody saw goes back; a published domain failed later and its
      // transition error is the one to report.
      if (this.#table.isReserved(domid)) this.#table.release(domid);
      throw leftover ?? e;
    }
  }

  pause(domid: number): Promise<DomainInfo> {
    return this.#op(domid, async (d) => {
      this.#require(d, 'pause', ['running']);
      await d.runtime.pause();
      this.#transition(d, 'paused', 'paused');
    });
  }

  unpause(domid: number): Promise<DomainInfo> {
    return this.#op(domid, async (d) => {
      this.#require(d, 'unpause', ['paused']);
      if (d.started) await d.runtime.unpause();
      else {
        await d.runtime.start();
        d.started = true;
      }
      this.#transition(d, 'running', 'unpaused');
    });
  }

  /** Stops the guest for good; the domain and its resources remain until destroy. */
  shutdown(domid: number, reason = 'requested'): Promise<DomainInfo> {
    return this.#op(domid, async (d) => {
      this.#require(d, 'shut down', ['running', 'paused']);
      await this.#stopGuest(d, reason);
    });
  }

  /** dying (resources being released) → destroyed (domid free, stats region removed). */
  destroy(domid: number): Promise<DomainInfo> {
    return this.#op(domid, async (d) => {
      this.#require(d, 'destroy', ['running', 'paused', 'shutdown']);
      this.#transition(d, 'dying', 'dying');
      try {
        await d.runtime.destroy();
      } catch (e) {
        // Destruction must finish: report the backend's failure and release what is ours.
        this.#emit({ kind: 'error', at: Date.now(), domain: this.#snapshot(d), error: e as Error });
      }
      d.stats.region.close();
      this.#transition(d, 'destroyed', 'destroyed');
      this.#domains.delete(d.info.domid);
    });
  }

  /** Destroys every domain, removes every region of this host, closes the backend if it owns it. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.allSettled([...this.#creating]);
      const domids = [...this.#domains.keys()];
      await Promise.allSettled(domids.map((domid) => this.destroy(domid)));
      this.#directory.region.close();
      if (this.#ownsBackend) await this.backend.close();
    })();
    return this.#stopping;
  }

  async #stopGuest(d: Domain, reason: string): Promise<void> {
    await d.runtime.stop();
    d.info.shutdownReason = reason;
    this.#transition(d, 'shutdown', 'shutdown', reason);
  }

  #onGuestEvent(d: Domain, event: DomainEvent): void {
    this.#emit({ kind: 'guest', at: Date.now(), domain: this.#snapshot(d), event });
    if (event.kind === 'report') return;
    const reason = event.kind === 'crashed' ? `crashed: ${event.reason}` : event.reason;
    // Queued behind whatever runs on the domain; a domain already stopping ignores it.
    this.#op(d.info.domid, async (cur) => {
      if (cur.info.state === 'running' || cur.info.state === 'paused') await this.#stopGuest(cur, reason);
    }).catch((e: unknown) => {
      if (this.#domains.has(d.info.domid)) {
        this.#emit({ kind: 'error', at: Date.now(), domain: this.#snapshot(d), error: e as Error });
      }
    });
  }

  #require(d: Domain, what: string, states: DomainState[]): void {
    if (!states.includes(d.info.state)) {
      throw new UsageError(`cannot ${what} domain ${d.info.domid} (${d.info.name}): it is ${d.info.state}`);
    }
  }

  /** Runs `fn` after the domain's previous operations; resolves with the domain's state after it. */
  #op(domid: number, fn: (d: Domain) => Promise<void>): Promise<DomainInfo> {
    const d = this.#domains.get(domid);
    if (!d) return Promise.reject(new UsageError(`no domain ${domid}`));
    const run = d.queue.then(async () => {
      if (!d.published) throw new UsageError(`domain ${domid} failed to start`);
      if (d.info.state === 'destroyed') throw new UsageError(`domain ${domid} was destroyed`);
      await fn(d);
      return this.#snapshot(d);
    });
    d.queue = run.catch(() => {});
    return run;
  }

  #transition(d: Domain, state: DomainState, kind: HostEventKind, reason?: string): void {
    d.info.state = state;
    this.#table.transition(d.info.domid, state);
    this.#emit({ kind, at: Date.now(), domain: this.#snapshot(d), ...(reason === undefined ? {} : { reason }) });
  }

  #publishDirectory(info: DomainStateInfo): void {
    const d = this.#domains.get(info.domid);
    this.#directory.publish(info.domid, {
      state: info.state,
      uniqueId: info.uniqueId,
      generation: info.generation,
      stats: info.state !== 'destroyed',
      nrVcpus: d?.info.vcpus ?? 0,
    });
  }

  #emit(event: HostEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (e) {
        // A listener's failure is its own: the host goes on, but the failure is not hidden.
        this.#onListenerError(e);
      }
    }
  }

  #snapshot(d: Domain): DomainInfo {
    return { ...d.info, kvmStatsFds: { ...d.info.kvmStatsFds, vcpus: [...d.info.kvmStatsFds.vcpus] } };
  }
}
