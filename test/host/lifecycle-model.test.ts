/**
 * Model-based test of the lifecycle feed through the host's own domain table: random sequences
 * of create / pause / unpause / shutdown / dying / destroy / invalid transitions, with consumers
 * that subscribe, read (partly or fully) and unsubscribe at random times.
 *
 * Invariants checked after every command, for every consumer:
 *  - no missed change: wherever the consumer's view of a domid (unique id and phase) differs
 *    from the truth, the domid's bit is set in its bitmap;
 *  - after a full drain the consumer's view equals the truth (resync on subscribe included);
 *  - every domain the consumer saw that has since ended (destroyed, domid possibly reused) is
 *    noticed — by a `destroyed` state or by a different unique id on its domid;
 *  - unique ids never repeat; domids are the lowest free; generations count allocations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DomainTable, TransitionError } from '../../src/host/domain-table.ts';
import {
  type DomainPhase,
  type DomainState,
  type FeedConsumer,
  LifecycleFeed,
  NONE,
  phase,
} from '../../src/host/lifecycle.ts';

interface View {
  uniqueId: bigint;
  phase: DomainPhase;
}

interface ConsumerModel {
  consumer: FeedConsumer;
  /** What the consumer learned, by domid. */
  known: Map<number, View>;
  /** Unique ids the consumer saw alive whose domain has ended, not yet noticed by it. */
  outstanding: Set<bigint>;
  reusesDetected: number;
}

interface Model {
  /** Truth: allocated (published) domains by domid. */
  domains: Map<number, { uniqueId: bigint; state: DomainState; generation: number }>;
  generations: Map<number, number>;
  uniqueIds: Set<bigint>;
  consumers: ConsumerModel[];
}

interface Real {
  feed: LifecycleFeed;
  table: DomainTable;
}

const ALLOWED: Record<DomainState, DomainState[]> = {
  running: ['paused', 'shutdown', 'dying'],
  paused: ['running', 'shutdown', 'dying'],
  shutdown: ['dying'],
  dying: ['destroyed'],
  destroyed: [],
};

function truthView(m: Model, domid: number): View | undefined {
  const d = m.domains.get(domid);
  return d ? { uniqueId: d.uniqueId, phase: phase(d.state) } : undefined;
}

/** A destroyed domain and a domid never seen are the same to a consumer: nothing lives there. */
function sameView(a: View | undefined, b: View | undefined): boolean {
  const liveA = a && a.phase !== 'destroyed' ? a : undefined;
  const liveB = b && b.phase !== 'destroyed' ? b : undefined;
  if (!liveA || !liveB) return liveA === liveB;
  return liveA.uniqueId === liveB.uniqueId && liveA.phase === liveB.phase;
}

function checkInvariants(m: Model): void {
  for (const c of m.consumers) {
    const domids = new Set([...c.known.keys(), ...m.domains.keys()]);
    for (const d of domids) {
      if (!sameView(c.known.get(d), truthView(m, d))) {
        assert.ok(c.consumer.bitmap.has(d), `consumer ${c.consumer.id}: stale view of domid ${d} without its bit`);
      }
    }
  }
}

function pick<T>(items: T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

const sortedDomids = (m: Model) => [...m.domains.keys()].sort((a, b) => a - b);

class Create implements fc.Command<Model, Real> {
  constructor(readonly paused: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    let expected = 1;
    while (m.domains.has(expected)) expected++;
    const res = r.table.reserve();
    assert.equal(res.domid, expected, 'the lowest free domid');
    assert.ok(!m.uniqueIds.has(res.uniqueId), 'unique ids never repeat');
    const generation = (m.generations.get(res.domid) ?? 0) + 1;
    assert.equal(res.generation, generation);
    const state = this.paused ? 'paused' : 'running';
    r.table.transition(res.domid, state);
    m.uniqueIds.add(res.uniqueId);
    m.generations.set(res.domid, generation);
    m.domains.set(res.domid, { uniqueId: res.uniqueId, state, generation });
    checkInvariants(m);
  }
  toString = () => `create(${this.paused ? 'paused' : 'running'})`;
}

/** Any transition on some domain; the real table must refuse exactly the invalid ones. */
class Transition implements fc.Command<Model, Real> {
  constructor(
    readonly n: number,
    readonly to: DomainState,
  ) {}
  check = (m: Readonly<Model>) => m.domains.size > 0;
  run(m: Model, r: Real): void {
    const domid = pick(sortedDomids(m), this.n)!;
    const d = m.domains.get(domid)!;
    if (!ALLOWED[d.state].includes(this.to)) {
      assert.throws(() => r.table.transition(domid, this.to), TransitionError);
      return;
    }
    const info = r.table.transition(domid, this.to);
    assert.equal(info.uniqueId, d.uniqueId);
    d.state = this.to;
    if (this.to === 'destroyed') {
      m.domains.delete(domid);
      for (const c of m.consumers) {
        const seen = c.known.get(domid);
        if (seen?.uniqueId === d.uniqueId && seen.phase !== 'destroyed') c.outstanding.add(d.uniqueId);
      }
    }
    checkInvariants(m);
  }
  toString = () => `transition(#${this.n} → ${this.to})`;
}

/** Destroys fully (dying, then destroyed), so that reuse happens often. */
class Destroy implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check = (m: Readonly<Model>) => m.domains.size > 0;
  run(m: Model, r: Real): void {
    const domid = pick(sortedDomids(m), this.n)!;
    const state = m.domains.get(domid)!.state;
    if (state !== 'dying') new Transition(sortedDomids(m).indexOf(domid), 'dying').run(m, r);
    new Transition(sortedDomids(m).indexOf(domid), 'destroyed').run(m, r);
  }
  toString = () => `destroy(#${this.n})`;
}

class Subscribe implements fc.Command<Model, Real> {
  check = () => true;
  run(m: Model, r: Real): void {
    m.consumers.push({ consumer: r.feed.subscribe(), known: new Map(), outstanding: new Set(), reusesDetected: 0 });
    checkInvariants(m);
  }
  toString = () => 'subscribe';
}

class Unsubscribe implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check = (m: Readonly<Model>) => m.consumers.length > 0;
  run(m: Model, r: Real): void {
    const i = this.n % m.consumers.length;
    const [c] = m.consumers.splice(i, 1);
    r.feed.unsubscribe(c!.consumer);
    assert.throws(() => r.feed.getDomainState(c!.consumer));
  }
  toString = () => `unsubscribe(#${this.n})`;
}

/** Reads up to `steps` changes (Infinity: drains, then checks the consumer is in sync). */
class Read implements fc.Command<Model, Real> {
  constructor(
    readonly n: number,
    readonly steps: number,
  ) {}
  check = (m: Readonly<Model>) => m.consumers.length > 0;
  run(m: Model, r: Real): void {
    const c = m.consumers[this.n % m.consumers.length]!;
    for (let i = 0; i < this.steps; i++) {
      // Reads go round the domids from the consumer's cursor, wrapping to the lowest.
      const atCursor = c.consumer.bitmap.firstFrom(c.consumer.cursor);
      const expected = atCursor >= 0 ? atCursor : c.consumer.bitmap.first();
      const res = r.feed.getDomainState(c.consumer);
      if (res === NONE) {
        assert.equal(expected, -1);
        break;
      }
      assert.equal(res.domid, expected, 'the next changed domid at or after the cursor comes first');
      assert.ok(!c.consumer.bitmap.has(res.domid), 'reading clears the bit');
      const truth = m.domains.get(res.domid);
      if (truth) {
        assert.equal(res.uniqueId, truth.uniqueId);
        assert.equal(res.state, truth.state);
        assert.equal(res.generation, truth.generation);
      } else {
        assert.equal(res.state, 'destroyed');
      }
      const before = c.known.get(res.domid);
      if (before && before.uniqueId !== res.uniqueId && before.phase !== 'destroyed') c.reusesDetected++;
      if (before && (before.uniqueId !== res.uniqueId || res.state === 'destroyed')) {
        c.outstanding.delete(before.uniqueId);
      }
      c.known.set(res.domid, { uniqueId: res.uniqueId, phase: phase(res.state) });
    }
    if (this.steps === Number.POSITIVE_INFINITY) {
      assert.ok(!r.feed.pending(c.consumer));
      for (const d of new Set([...c.known.keys(), ...m.domains.keys()])) {
        assert.ok(sameView(c.known.get(d), truthView(m, d)), `consumer in sync after a drain (domid ${d})`);
      }
      assert.equal(c.outstanding.size, 0, 'every ended domain the consumer knew was noticed');
    }
    checkInvariants(m);
  }
  toString = () => `read(#${this.n}, ${this.steps})`;
}

const states: DomainState[] = ['running', 'paused', 'shutdown', 'dying', 'destroyed'];
const commands = [
  fc.boolean().map((p) => new Create(p)),
  fc.boolean().map((p) => new Create(p)),
  fc.tuple(fc.nat(), fc.constantFrom(...states)).map(([n, s]) => new Transition(n, s)),
  fc.nat().map((n) => new Destroy(n)),
  fc.constant(new Subscribe()),
  fc.nat().map((n) => new Unsubscribe(n)),
  fc
    .tuple(fc.nat(), fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Number.POSITIVE_INFINITY)))
    .map(([n, s]) => new Read(n, s)),
];

test('lifecycle feed: model-based, several consumers subscribing at random times', () => {
  let reuses = 0;
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 80, size: 'max' }), (cmds) => {
      const feed = new LifecycleFeed();
      const model: Model = { domains: new Map(), generations: new Map(), uniqueIds: new Set(), consumers: [] };
      fc.modelRun(() => ({ model, real: { feed, table: new DomainTable(feed) } }), cmds);
      // Finally every consumer drains and must be in sync.
      const real = { feed, table: undefined as unknown as DomainTable };
      for (let i = 0; i < model.consumers.length; i++) new Read(i, Number.POSITIVE_INFINITY).run(model, real);
      for (const c of model.consumers) reuses += c.reusesDetected;
    }),
    { numRuns: 300 },
  );
  assert.ok(reuses > 0, 'the generated runs exercised domid reuse');
});

test('subscribing sets the bits of existing domains only; pause does not signal', () => {
  const feed = new LifecycleFeed();
  const table = new DomainTable(feed);
  const a = table.reserve();
  table.transition(a.domid, 'running');
  const b = table.reserve();
  table.transition(b.domid, 'running');
  table.transition(b.domid, 'dying');
  table.transition(b.domid, 'destroyed');
  const c = table.reserve();
  assert.equal(c.domid, b.domid, 'the destroyed domid is reused at once');
  assert.equal(c.generation, 2);
  // c is reserved, not published: not visible yet.
  const consumer = feed.subscribe();
  assert.deepEqual(feed.getDomainState(consumer), {
    domid: a.domid,
    state: 'running',
    uniqueId: a.uniqueId,
    generation: 1,
  });
  assert.equal(feed.getDomainState(consumer), NONE);
  table.transition(a.domid, 'paused');
  table.transition(a.domid, 'running');
  assert.equal(feed.getDomainState(consumer), NONE, 'pause/unpause do not signal');
  table.release(c.domid);
  assert.equal(table.reserve().domid, c.domid);
});
