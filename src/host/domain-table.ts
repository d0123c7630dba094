/**
 * The host's bookkeeping of domains, without any CPU: domid allocation, unique ids, generations
 * and the state machine. Every published transition goes to the lifecycle feed and to the
 * `onPublish` hook (the Host writes the domain directory from it), so the feed, the directory
 * and the host's own view cannot disagree.
 *
 * domids: the lowest free one is allocated, so a destroyed domain's domid is reused by the very
 * next creation. Xen rotates instead, to make reuse rare — which also makes consumers that
 * ignore reuse fail rarely and mysteriously. hvkit makes reuse the common case and gives
 * consumers the unique id and generation to detect it; small domids also keep the feed's and
 * the directory's busy range small.
 *
 * State machine (creation publishes running or paused):
 *   running ⇄ paused;  running|paused → shutdown;  running|paused|shutdown → dying → destroyed.
 */
import { UsageError } from '../errors.ts';
import { ChangeBitmap } from './change-bitmap.ts';
import { checkDomid, type DomainState, type DomainStateInfo, type LifecycleFeed, MAX_DOMID } from './lifecycle.ts';
import { UniqueIdAllocator } from './unique-id.ts';

const ALLOWED: Record<DomainState, readonly DomainState[]> = {
  running: ['paused', 'shutdown', 'dying'],
  paused: ['running', 'shutdown', 'dying'],
  shutdown: ['dying'],
  dying: ['destroyed'],
  destroyed: [],
};

export class TransitionError extends UsageError {
  constructor(
    readonly domid: number,
    readonly from: DomainState | 'reserved' | 'free',
    readonly to: DomainState,
  ) {
    super(`domain ${domid}: cannot go from ${from} to ${to}`);
  }
}

export interface Reservation {
  domid: number;
  uniqueId: bigint;
  generation: number;
}

export interface DomainTableOptions {
  uniqueIds?: UniqueIdAllocator;
  /** Called after every published transition (after the feed). */
  onPublish?: (info: DomainStateInfo) => void;
}

export class DomainTable {
  readonly feed: LifecycleFeed;
  readonly #uniqueIds: UniqueIdAllocator;
  readonly #onPublish: (info: DomainStateInfo) => void;
  /** Set bits = free domids; the lowest is taken first. */
  readonly #free = new ChangeBitmap();
  readonly #generation = new Uint32Array(MAX_DOMID + 1);
  /** Allocated domids: their unique id and state ('reserved' until creation is published). */
  readonly #live = new Map<number, { uniqueId: bigint; state: DomainState | 'reserved' }>();

  constructor(feed: LifecycleFeed, options: DomainTableOptions = {}) {
    this.feed = feed;
    this.#uniqueIds = options.uniqueIds ?? new UniqueIdAllocator();
    this.#onPublish = options.onPublish ?? (() => {});
    for (let d = 1; d <= MAX_DOMID; d++) this.#free.set(d);
  }

  /** Takes the lowest free domid and a new unique id; nothing is published yet. */
  reserve(): Reservation {
    const domid = this.#free.take();
    if (domid < 0) throw new UsageError(`no free domid: all ${MAX_DOMID} are in use`);
    const uniqueId = this.#uniqueIds.next();
    const generation = (this.#generation[domid]! + 1) >>> 0;
    this.#generation[domid] = generation;
    this.#live.set(domid, { uniqueId, state: 'reserved' });
    return { domid, uniqueId, generation };
  }

  /** True while `domid` is reserved and not yet published. */
  isReserved(domid: number): boolean {
    return this.#live.get(domid)?.state === 'reserved';
  }

  /** Gives back a reservation whose creation failed: nobody ever saw it. */
  release(domid: number): void {
    const entry = this.#live.get(domid);
    if (entry?.state !== 'reserved') throw new UsageError(`domain ${domid} is not a pending reservation`);
    this.#live.delete(domid);
    this.#free.set(domid);
  }

  /** Publishes a transition (creation: from the reservation to running or paused). */
  transition(domid: number, to: DomainState): DomainStateInfo {
    checkDomid(domid);
    const entry = this.#live.get(domid);
    if (!entry) throw new TransitionError(domid, 'free', to);
    const ok = entry.state === 'reserved' ? to === 'running' || to === 'paused' : ALLOWED[entry.state].includes(to);
    if (!ok) throw new TransitionError(domid, entry.state, to);
    entry.state = to;
    const info: DomainStateInfo = { domid, state: to, uniqueId: entry.uniqueId, generation: this.#generation[domid]! };
    this.feed.publish(domid, to, entry.uniqueId, info.generation);
    if (to === 'destroyed') {
      this.#live.delete(domid);
      this.#free.set(domid);
    }
    this.#onPublish(info);
    return info;
  }

  /** The state of an allocated domid ('reserved' while being created), or undefined when free. */
  state(domid: number): DomainState | 'reserved' | undefined {
    return this.#live.get(domid)?.state;
  }

  /** Published (not reserved) domains, by domid. */
  list(): DomainStateInfo[] {
    const out: DomainStateInfo[] = [];
    for (const [domid, e] of this.#live) {
      if (e.state === 'reserved') continue;
      out.push({ domid, state: e.state, uniqueId: e.uniqueId, generation: this.#generation[domid]! });
    }
    return out.sort((a, b) => a.domid - b.domid);
  }
}
