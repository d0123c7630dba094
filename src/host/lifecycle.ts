/**
 * The domain lifecycle feed (DESIGN §3, after the Xen proposal in seeds/xenstore-domain-state.txt).
 *
 * The host publishes every domain transition here. Each consumer subscribes and gets its own
 * change bitmap over the 32768 domids (Xen has one, for one consumer): a transition that
 * consumers must notice sets the domid's bit in every consumer's bitmap, and `getDomainState`
 * returns one changed domid with its *current* state, unique id and generation, clearing
 * the bit — `'none'` when nothing changed. Each consumer reads round the domids from where it
 * stopped (not always from the lowest), so constant churn on low domids cannot starve high ones. Subscribing sets the bit of every existing domain, so a
 * new or reconnecting consumer resyncs by draining.
 *
 * States. The seed's interface knows "existing" and "dying"; hvkit splits "existing" into what a
 * consumer can act on:
 *   running, paused  the guest exists and may run (pause/unpause do NOT signal: nothing a consumer
 *                    keeps about a domain changes, as with Xen's VIRQ_DOM_EXC; the directory
 *                    region shows them);
 *   shutdown         the guest stopped (asked to, or crashed); the domain and its resources stay;
 *   dying            destruction started: resources are being released;
 *   destroyed        gone; the domid is free and may be reused at once.
 * Signalled: creation, shutdown, dying, destroyed — every change of `phase()` or of the unique id.
 *
 * Because the state returned is the current one, a consumer that is slow may see a domid go
 * straight from one unique id to another: the unique id (or generation) differs, which is exactly
 * how it detects that the domid was reused and the domain it knew is gone.
 */
import { InternalError, UsageError } from '../errors.ts';
import { BITMAP_BITS, ChangeBitmap } from './change-bitmap.ts';

export const MAX_DOMID = BITMAP_BITS - 1;

export type DomainState = 'running' | 'paused' | 'shutdown' | 'dying' | 'destroyed';
export const DOMAIN_STATES: readonly DomainState[] = ['running', 'paused', 'shutdown', 'dying', 'destroyed'];

/** What a consumer tracks: running and paused are one phase (pause does not signal). */
export type DomainPhase = 'alive' | 'shutdown' | 'dying' | 'destroyed';

export function phase(state: DomainState): DomainPhase {
  return state === 'running' || state === 'paused' ? 'alive' : state;
}

export interface DomainStateInfo {
  domid: number;
  state: DomainState;
  /** The unique id of the domain that holds (or last held) the domid. */
  uniqueId: bigint;
  /** How many times the domid has been given to a domain (1 for its first domain). */
  generation: number;
}

export const NONE = 'none';
export type DomainStateResult = DomainStateInfo | typeof NONE;

/** A subscription: its own bitmap. Obtain from LifecycleFeed.subscribe(). */
export class FeedConsumer {
  readonly bitmap = new ChangeBitmap();
  /** Where the next read starts: reads go round the domids, so no changed domid waits forever. */
  cursor = 0;
  #active = true;
  constructor(readonly id: number) {}
  get active(): boolean {
    return this.#active;
  }
  /** @internal */
  end(): void {
    this.#active = false;
    this.bitmap.clearAll();
  }
}

const STATE_CODE: Record<DomainState, number> = { running: 1, paused: 2, shutdown: 3, dying: 4, destroyed: 5 };
const CODE_STATE: (DomainState | undefined)[] = [undefined, 'running', 'paused', 'shutdown', 'dying', 'destroyed'];

export function checkDomid(domid: number): void {
  if (!Number.isInteger(domid) || domid < 1 || domid > MAX_DOMID) {
    throw new UsageError(`domid ${domid} is outside 1..${MAX_DOMID}`);
  }
}

export class LifecycleFeed {
  /** Per domid: state code (0 = never used), unique id, generation — the last published values. */
  readonly #state = new Uint8Array(BITMAP_BITS);
  readonly #uniqueId = new BigUint64Array(BITMAP_BITS);
  readonly #generation = new Uint32Array(BITMAP_BITS);
  /** Domids whose state is not destroyed, for resync at subscribe (O(existing), not O(domids)). */
  readonly #existing = new Set<number>();
  readonly #consumers = new Set<FeedConsumer>();
  #nextConsumer = 1;

  /** Records a domain's state; signals every consumer when the phase or the unique id changed. */
  publish(domid: number, state: DomainState, uniqueId: bigint, generation: number): void {
    checkDomid(domid);
    if (uniqueId === 0n) throw new UsageError('unique ids are never 0');
    const code = this.#state[domid]!;
    const before = CODE_STATE[code];
    const signal = before === undefined || this.#uniqueId[domid] !== uniqueId || phase(before) !== phase(state);
    this.#state[domid] = STATE_CODE[state];
    this.#uniqueId[domid] = uniqueId;
    this.#generation[domid] = generation;
    if (state === 'destroyed') this.#existing.delete(domid);
    else this.#existing.add(domid);
    if (signal) for (const c of this.#consumers) c.bitmap.set(domid);
  }

  /** A new consumer with the bits of every existing (not destroyed) domain set. */
  subscribe(): FeedConsumer {
    const c = new FeedConsumer(this.#nextConsumer++);
    for (const domid of this.#existing) c.bitmap.set(domid);
    this.#consumers.add(c);
    return c;
  }

  unsubscribe(consumer: FeedConsumer): void {
    this.#consumers.delete(consumer);
    consumer.end();
  }

  /** One changed domid (the lowest) with its current state, clearing its bit; 'none' when none. */
  getDomainState(consumer: FeedConsumer): DomainStateResult {
    if (!consumer.active) throw new UsageError(`consumer ${consumer.id} has unsubscribed`);
    const domid = consumer.bitmap.takeFrom(consumer.cursor);
    if (domid < 0) return NONE;
    consumer.cursor = (domid + 1) % BITMAP_BITS;
    const info = this.current(domid);
    if (!info) throw new InternalError(`domid ${domid} was signalled but never published`);
    return info;
  }

  /** True when the consumer has changes to read. */
  pending(consumer: FeedConsumer): boolean {
    return !consumer.bitmap.empty;
  }

  /** The last published state of a domid, or undefined if it was never used. */
  current(domid: number): DomainStateInfo | undefined {
    checkDomid(domid);
    const state = CODE_STATE[this.#state[domid]!];
    if (state === undefined) return undefined;
    return { domid, state, uniqueId: this.#uniqueId[domid]!, generation: this.#generation[domid]! };
  }

  get consumers(): number {
    return this.#consumers.size;
  }
}
