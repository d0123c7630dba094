import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { registerCoreCalls } from '../../src/calls/core.ts';
import { type CallContext, CallError, Dispatcher, LocalSession, ok } from '../../src/calls/dispatcher.ts';
import { domainInfo, listDomains, queryCall } from '../../src/ctl/api.ts';
import { fromBitset256 } from '../../src/formats/callword/bitset.ts';
import {
  ANNOTATION,
  CORE_CALL,
  DOMAIN_CALL,
  FAMILY,
  LIFECYCLE_CALL,
  STATUS,
} from '../../src/formats/callword/constants.ts';
import { decodeDomainInfo, decodeDomainState, packName } from '../../src/formats/callword/values.ts';
import { callWord, encodeCallWord } from '../../src/formats/callword/word.ts';
import { createHostDispatcher } from '../../src/host/calls-host.ts';
import { Host } from '../../src/host/host.ts';
import { simBackend } from '../host/sim-backend.ts';

const tool: CallContext = { caller: { kind: 'tool' } };
const guest: CallContext = { caller: { kind: 'guest', domid: 1, vcpu: 0 } };

function echoDispatcher() {
  const d = new Dispatcher();
  const seen: { args: readonly bigint[]; annotations: number }[] = [];
  d.register(FAMILY.experimental, 1, {
    name: 'experimental.echo',
    nargs: 3,
    queueable: true,
    handler: (args, ctx) => {
      seen.push({ args, annotations: ctx.annotations });
      return ok(...args);
    },
  });
  d.register(FAMILY.experimental, 2, { name: 'experimental.tool_only', callers: ['tool'], handler: () => ok() });
  registerCoreCalls(d, { abi: { major: 1, revision: 1 } });
  return { d, seen };
}

test('every word the dispatcher cannot serve gets its defined error', async () => {
  const { d } = echoDispatcher();
  const echo = callWord(FAMILY.experimental, 1);
  assert.deepEqual(await d.dispatch(echo, [1n], tool), { status: STATUS.ok, values: [1n, 0n, 0n] });
  assert.equal((await d.dispatch((echo | 0x0100) >>> 0, [], tool)).status, STATUS.reservedBits);
  assert.equal((await d.dispatch((echo | 0x8000) >>> 0, [], tool)).status, STATUS.reservedBits);
  assert.equal((await d.dispatch(callWord(0x42, 0), [], tool)).status, STATUS.unknownFamily);
  assert.equal((await d.dispatch(callWord(FAMILY.experimental, 9), [], tool)).status, STATUS.unknownCall);
  assert.equal((await d.dispatch(callWord(FAMILY.experimental, 2), [], guest)).status, STATUS.notPermitted);
  assert.equal((await d.dispatch(callWord(FAMILY.experimental, 2), [], tool)).status, STATUS.ok);
  assert.equal((await d.dispatch(echo, new Array(9).fill(0n), tool)).status, STATUS.badArgument);
  assert.equal((await d.dispatch(echo, [1n << 64n], tool)).status, STATUS.badArgument);
  assert.equal((await d.dispatch(echo, [-1n], tool)).status, STATUS.badArgument);
  // Extra arguments (up to MAX_ARGS) are checked, then ignored: registers a call does not read.
  assert.deepEqual((await d.dispatch(echo, [1n, 2n, 3n, 4n, 5n], tool)).values, [1n, 2n, 3n]);
  assert.equal((await d.dispatch(echo, [1n, 2n, 3n, 4n, -5n], tool)).status, STATUS.badArgument);
  assert.equal((await d.dispatch(-1, [], tool)).status, STATUS.badArgument);
});

test('every u32 word answers a defined status, never an exception', async () => {
  const { d } = echoDispatcher();
  const defined = new Set<number>(Object.values(STATUS));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.bigInt({ min: -1n, max: 1n << 64n }), { maxLength: 10 }),
      async (w, args) => {
        const r = await d.dispatch(w, args, tool);
        assert.ok(defined.has(r.status), `status ${r.status}`);
        if (r.status !== STATUS.ok) assert.deepEqual(r.values, []);
      },
    ),
    { numRuns: 500 },
  );
});

test('unknown annotation bits are ignored: the call still works; the handler sees only those it honours', async () => {
  const { d, seen } = echoDispatcher();
  for (const annotation of [0x00, 0x01, 0x02, 0xfe, 0xff]) {
    const r = await d.dispatch(encodeCallWord({ family: FAMILY.experimental, call: 1, annotation }), [7n], tool);
    assert.deepEqual(r, { status: STATUS.ok, values: [7n, 0n, 0n] });
  }
  assert.deepEqual(
    seen.map((s) => s.annotations),
    [0, ANNOTATION.mayQueue, 0, 0, ANNOTATION.mayQueue],
  );
});

test('handler failures become statuses: CallError its own, anything else internal_error', async () => {
  const errors: string[] = [];
  const d = new Dispatcher({ onInternalError: (name) => errors.push(name) });
  d.register(0xff, 1, {
    name: 'x.refuse',
    handler: () => {
      throw new CallError(STATUS.busy, 'later');
    },
  });
  d.register(0xff, 2, {
    name: 'x.crash',
    handler: () => {
      throw new TypeError('bug');
    },
  });
  d.register(0xff, 3, { name: 'x.garbage', handler: () => ({ status: STATUS.ok, values: [-1n] }) });
  d.register(0xff, 4, { name: 'x.many', handler: () => ok(...new Array(17).fill(0n)) });
  d.register(0xff, 5, {
    name: 'x.async',
    handler: async () => {
      throw new CallError(STATUS.noSuchDomain, 'gone');
    },
  });
  d.register(0xff, 6, { name: 'x.badstatus', handler: () => ({ status: 1.5, values: [] }) });
  const status = async (call: number) => (await d.dispatch(callWord(0xff, call), [], tool)).status;
  assert.equal(await status(1), STATUS.busy);
  assert.equal(await status(2), STATUS.internalError);
  assert.equal(await status(3), STATUS.internalError);
  assert.equal(await status(4), STATUS.internalError);
  assert.equal(await status(5), STATUS.noSuchDomain);
  assert.equal(await status(6), STATUS.internalError);
  assert.deepEqual(errors, ['x.crash', 'x.garbage', 'x.many', 'x.badstatus']);
  assert.throws(() => d.register(0xff, 1, { name: 'again', handler: () => ok() }), /already registered/);
  assert.throws(() => d.register(0x100, 1, { name: 'wide', handler: () => ok() }), RangeError);
});

test('feature query: families, calls, and per call — supported, who may call, annotations honoured', async () => {
  const { d } = echoDispatcher();
  const call = (w: number, args: bigint[] = []) => d.dispatch(w, args, guest);
  const fams = await call(callWord(FAMILY.core, CORE_CALL.families));
  assert.deepEqual(fromBitset256(fams.values), [FAMILY.core, FAMILY.experimental]);
  const calls = await call(callWord(FAMILY.core, CORE_CALL.calls), [BigInt(FAMILY.experimental)]);
  assert.deepEqual(fromBitset256(calls.values), [1, 2]);
  assert.deepEqual(fromBitset256((await call(callWord(FAMILY.core, CORE_CALL.calls), [0x42n])).values), []);
  assert.equal((await call(callWord(FAMILY.core, CORE_CALL.calls), [256n])).status, STATUS.badArgument);
  const q = (w: number) => call(callWord(FAMILY.core, CORE_CALL.queryCall), [BigInt(w)]);
  // supported | tool | guest, and may_queue honoured — also when asked with annotation bits set.
  assert.deepEqual((await q(callWord(FAMILY.experimental, 1, 0xff))).values, [7n, 1n]);
  assert.deepEqual((await q(callWord(FAMILY.experimental, 2))).values, [3n, 0n]);
  // The defined "not supported" answer.
  assert.deepEqual(await q(callWord(FAMILY.pool, 0)), { status: STATUS.ok, values: [0n, 0n] });
  assert.deepEqual((await q((callWord(FAMILY.experimental, 1) | 0x100) >>> 0)).values, [0n, 0n]);
  assert.equal((await q(2 ** 32)).status, STATUS.badArgument);
  assert.deepEqual((await call(callWord(FAMILY.core, CORE_CALL.abiVersion))).values, [1n, 1n]);
});

function withHost(fn: (host: Host, d: Dispatcher) => Promise<void>): () => Promise<void> {
  return async () => {
    const host = Host.start({ backend: simBackend(), ownsBackend: true });
    const calls = createHostDispatcher(host);
    try {
      await fn(host, calls.dispatcher);
    } finally {
      await calls.close();
      await host.stop();
    }
  };
}

test(
  'domain family over a host: create, list by index, info, pause/unpause/shutdown/destroy with defined errors',
  withHost(async (host, d) => {
    const w = (call: number) => callWord(FAMILY.domain, call);
    const [n0, n1] = packName('calls-a');
    const created = await d.dispatch(w(DOMAIN_CALL.create), [2n, 4n, 1n, 1n, n0, n1], tool);
    assert.equal(created.status, STATUS.ok);
    const info = decodeDomainInfo(created.values);
    assert.deepEqual(
      { name: info.name, state: info.state, vcpus: info.vcpus, memoryMiB: info.memoryMiB, workload: info.workload },
      { name: 'calls-a', state: 'paused', vcpus: 2, memoryMiB: 4, workload: 'io' },
    );
    assert.equal(info.uniqueId, host.domain(info.domid)!.uniqueId);
    // Guests may read but not change.
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [1n, 4n], guest)).status, STATUS.notPermitted);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.destroy), [BigInt(info.domid)], guest)).status, STATUS.notPermitted);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.info), [BigInt(info.domid)], guest)).status, STATUS.ok);
    // Bad arguments.
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [0n, 4n, 0n], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [1n, 4n, 9n], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [1n, 4n, 0n, 2n], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [1n, 4n, 0n, 0n, 0xffn], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.create), [99n, 4n, 0n], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.pause), [0n], tool)).status, STATUS.badArgument);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.pause), [999n], tool)).status, STATUS.noSuchDomain);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.info), [999n], tool)).status, STATUS.noSuchDomain);
    // State rules.
    const id = [BigInt(info.domid)];
    assert.equal((await d.dispatch(w(DOMAIN_CALL.pause), id, tool)).status, STATUS.invalidState);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.unpause), id, tool)).status, STATUS.ok);
    assert.equal(host.domain(info.domid)!.state, 'running');
    assert.equal((await d.dispatch(w(DOMAIN_CALL.pause), id, tool)).status, STATUS.ok);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.shutdown), id, tool)).status, STATUS.ok);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.unpause), id, tool)).status, STATUS.invalidState);
    // The list: count, then get by index; past the end is bad_argument.
    const second = decodeDomainInfo((await d.dispatch(w(DOMAIN_CALL.create), [1n, 4n, 0n], tool)).values);
    assert.equal(second.name, `dom${second.domid}`);
    assert.deepEqual((await d.dispatch(w(DOMAIN_CALL.count), [], guest)).values, [2n]);
    const listed = [0n, 1n].map(
      async (i) => decodeDomainInfo((await d.dispatch(w(DOMAIN_CALL.get), [i], tool)).values).domid,
    );
    assert.deepEqual(await Promise.all(listed), [info.domid, second.domid]);
    assert.equal((await d.dispatch(w(DOMAIN_CALL.get), [2n], tool)).status, STATUS.badArgument);
    const destroyed = await d.dispatch(w(DOMAIN_CALL.destroy), id, tool);
    assert.equal(decodeDomainInfo(destroyed.values).state, 'destroyed');
    assert.equal((await d.dispatch(w(DOMAIN_CALL.destroy), id, tool)).status, STATUS.noSuchDomain);
  }),
);

test(
  'lifecycle family: handles per session, the feed drained through calls, handles end with their session',
  withHost(async (host, d) => {
    const w = (call: number) => callWord(FAMILY.lifecycle, call);
    const a = new LocalSession();
    const b = new LocalSession();
    const ctxA: CallContext = { caller: { kind: 'tool' }, session: a };
    const ctxB: CallContext = { caller: { kind: 'guest', domid: 1, vcpu: 0 }, session: b };
    const dom = await host.createDomain({ vcpus: 1, memoryMiB: 4, workload: 'compute' });
    const [handle] = (await d.dispatch(w(LIFECYCLE_CALL.subscribe), [], ctxA)).values;
    assert.ok(handle! > 0n);
    assert.equal(host.feed.consumers, 1);
    const read = async (ctx: CallContext) => {
      const r = await d.dispatch(w(LIFECYCLE_CALL.getDomainState), [handle!], ctx);
      return r.status === STATUS.ok ? decodeDomainState(r.values) : r.status;
    };
    assert.equal(await read(ctxB), STATUS.badArgument); // another session's handle
    assert.deepEqual(await read(ctxA), { domid: dom.domid, state: 'running', uniqueId: dom.uniqueId, generation: 1 });
    assert.equal(await read(ctxA), undefined);
    await host.destroy(dom.domid);
    assert.equal(((await read(ctxA)) as { state: string }).state, 'destroyed');
    // Unsubscribe by call; a second subscription ends with its session.
    assert.equal((await d.dispatch(w(LIFECYCLE_CALL.unsubscribe), [handle!], ctxA)).status, STATUS.ok);
    assert.equal(await read(ctxA), STATUS.badArgument);
    assert.equal((await d.dispatch(w(LIFECYCLE_CALL.subscribe), [], ctxB)).status, STATUS.ok);
    assert.equal(host.feed.consumers, 1);
    b.close();
    assert.equal(host.feed.consumers, 0);
  }),
);

test(
  'a caller falls back when the host lacks a call: domain info found through count + get',
  withHost(async (host, d) => {
    const dom = await host.createDomain({ vcpus: 1, memoryMiB: 4, workload: 'compute', name: 'fallback' });
    const calls: string[] = [];
    const caller = (dispatcher: Dispatcher) => ({
      call: (word: number, args: readonly bigint[] = []) => {
        calls.push(word.toString(16));
        return dispatcher.dispatch(word, args, tool);
      },
    });
    // A smaller host: the same families without domain.info.
    const small = new Dispatcher();
    registerCoreCalls(small, { abi: { major: 1, revision: 1 } });
    for (const c of [DOMAIN_CALL.count, DOMAIN_CALL.get]) {
      small.register(FAMILY.domain, c, {
        name: `domain.${c}`,
        nargs: 1,
        handler: (args, ctx) => d.dispatch(callWord(FAMILY.domain, c), args, ctx),
      });
    }
    assert.equal((await queryCall(caller(small), callWord(FAMILY.domain, DOMAIN_CALL.info))).supported, false);
    assert.equal(
      (await small.dispatch(callWord(FAMILY.domain, DOMAIN_CALL.info), [1n], tool)).status,
      STATUS.unknownCall,
    );
    const found = await domainInfo(caller(small), dom.domid);
    assert.equal(found?.name, 'fallback');
    assert.ok(calls.includes('1000000'), 'walked the list (domain.count)');
    assert.equal(await domainInfo(caller(small), 999), undefined);
    // The full host answers directly.
    calls.length = 0;
    assert.equal((await domainInfo(caller(d), dom.domid))?.name, 'fallback');
    assert.ok(!calls.includes('1000000'));
    assert.equal((await listDomains(caller(d))).length, 1);
  }),
);
