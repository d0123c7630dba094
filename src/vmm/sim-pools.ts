/**
 * The simulated `pools` guest: guest/pools/pools.c re-told step for step (same hypercalls, same
 * page bytes in guest memory, same checks and reports), so a simulated run and a KVM run produce
 * the same report sequence. Keep them in sync.
 *
 * v1 object ids travel by reference, as in the C guest: 24 little-endian bytes in guest memory,
 * 8-byte aligned. The C guest keeps them in its image (wherever the linker put `states`); the
 * simulated guest has no image, so it keeps vCPU i's ids at SIM_OID_AREA + i × SIM_OID_STRIDE,
 * where the image would be. The addresses differ, the bytes and the reports do not.
 */
import { FAMILY, POOL_CALL, POOL_FLAG, QUERY_FLAG, STATUS } from '../formats/callword/constants.ts';
import { callWord } from '../formats/callword/word.ts';
import {
  GUEST_LOAD_ADDRESS,
  GUEST_POOL_AREA,
  guestDefines,
  POOLS_CONFIG,
  POOLS_OBJECTS,
  POOLS_OFF,
  POOLS_PAGES,
  REPORT,
  SEED_MULTIPLIER,
} from './guest-abi.ts';
import { type GuestState, report, type SimGuest, workloadGuest } from './sim-workloads.ts';

const CREATE = callWord(FAMILY.pool, POOL_CALL.create);
const PUT = callWord(FAMILY.pool, POOL_CALL.put);
const GET = callWord(FAMILY.pool, POOL_CALL.get);
const FLUSH_PAGE = callWord(FAMILY.pool, POOL_CALL.flushPage);
const FLUSH_OBJECT = callWord(FAMILY.pool, POOL_CALL.flushObject);
const DESTROY = callWord(FAMILY.pool, POOL_CALL.destroy);
const RESERVED_FLAG = 0x100;
const UNKNOWN_VERSION = 0x7f;
const PAGE = 4096;
const POISON = 0xee;
const OID_WORDS = 6;
const OID_BYTES = 4 * OID_WORDS;
const SIM_OID_AREA = GUEST_LOAD_ADDRESS;
const SIM_OID_STRIDE = POOLS_OBJECTS * OID_BYTES;

interface Hc {
  status: number;
  v0: number;
  v1: number;
  v2: number;
}

interface PoolsState {
  regs: Uint32Array;
  /** The one hypercall operation this guest yields, again and again. */
  op: { op: 'hypercall'; regs: Uint32Array };
  bytes: Uint8Array | undefined;
  version: number;
  /** Ephemeral pool [0] and persistent pool [1]; 0 = none. */
  pool: [number, number];
  out: number;
  in: number;
  /** Guest-physical address of object o's id: oids + o × OID_BYTES. */
  oids: number;
  /** Object o's id words (v0 passes words 0 and 1 in registers). */
  oid: number[][];
  puts: number;
  hits: number;
  misses: number;
  flushed: number;
  refused: number;
  errors: number;
  lost: number;
}

function* hypercall(s: PoolsState, word: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): Generator<never, Hc, number> {
  const r = s.regs;
  r[0] = word;
  r[1] = a0;
  r[2] = a1;
  r[3] = a2;
  r[4] = a3;
  r[5] = a4;
  yield s.op as never;
  return { status: r[0]! | 0, v0: r[1]!, v1: r[2]!, v2: r[3]! };
}

const expect = (s: PoolsState, ok: boolean) => {
  if (!ok) s.errors++;
};

const refused = (s: PoolsState, ok: boolean) => {
  if (ok) s.refused++;
  else s.errors++;
};

const versionFlags = (version: number) => (version << POOL_FLAG.versionShift) >>> 0;

/** Object o's id: v0 has only words 0 and 1; v1 objects o and o + 2 differ only in words 3..5. */
function makeOid(version: number, vcpu: number, o: number): number[] {
  const w = new Array<number>(OID_WORDS).fill(0);
  if (version === 0) {
    w[0] = 0x1000 + o;
    w[1] = 0x2000 + vcpu;
    return w;
  }
  w[0] = 0x1000 + (o & 1);
  w[1] = 0x2000 + vcpu;
  w[2] = (0xa5a5_0000 + vcpu) >>> 0;
  if (o === 2) w[5] = (0xc3c3_0000 + o) >>> 0;
  if (o === 3) {
    w[3] = (0x3c3c_0000 + o) >>> 0;
    w[4] = (0x5a5a_0000 + o) >>> 0;
  }
  return w;
}

/** Stores the ids in guest memory, where v1 calls point (little-endian u32 words). */
function storeOids(s: PoolsState): void {
  const view = new DataView(s.bytes!.buffer, s.bytes!.byteOffset, s.bytes!.byteLength);
  s.oid.forEach((w, o) => {
    for (let k = 0; k < OID_WORDS; k++) view.setUint32(s.oids + o * OID_BYTES + 4 * k, w[k]!, true);
  });
}

function pageSeed(s: PoolsState, round: number, kind: number, o: number, i: number): number {
  return Math.imul((1 + o + 16 * i + 256 * kind + 4096 * round + 65536 * s.version) >>> 0, SEED_MULTIPLIER) >>> 0;
}

const patternByte = (seed: number, k: number) => ((seed >>> ((k & 3) * 8)) + k) & 0xff;

/** A page call on object o: [a0, index, oid] — v0: two id words; v1: the id's guest-physical address. */
function* pageCall(s: PoolsState, word: number, a0: number, index: number, o: number) {
  const w = s.oid[o]!;
  if (s.version === 0) return yield* hypercall(s, word, a0 >>> 0, index, w[0], w[1]);
  return yield* hypercall(s, word, a0 >>> 0, index, s.oids + o * OID_BYTES);
}

/** flush_object on object o: [pool, oid] as for the page calls. */
function* flushObject(s: PoolsState, pool: number, o: number) {
  const w = s.oid[o]!;
  if (s.version === 0) return yield* hypercall(s, FLUSH_OBJECT, pool, w[0], w[1]);
  return yield* hypercall(s, FLUSH_OBJECT, pool, s.oids + o * OID_BYTES);
}

function* supported(s: PoolsState, word: number): Generator<never, boolean, number> {
  const r = yield* hypercall(s, Number(guestDefines().HVKIT_CALL_QUERY), word);
  const flags = Number(QUERY_FLAG.supported | QUERY_FLAG.guest);
  return r.status === STATUS.ok && (r.v0 & flags) === flags;
}

function* createRefused(s: PoolsState, flags: number, status: number): SimGuest {
  const r = yield* hypercall(s, CREATE, flags >>> 0);
  refused(s, r.status === status);
  if (r.status === STATUS.ok) yield* hypercall(s, DESTROY, r.v0);
}

function* createPools(s: PoolsState): Generator<never, boolean, number> {
  for (let kind = 0; kind < 2; kind++) {
    const r = yield* hypercall(s, CREATE, (versionFlags(s.version) | (kind ? POOL_FLAG.persistent : 0)) >>> 0);
    if (r.status !== STATUS.ok) {
      expect(s, r.status === STATUS.notSupported);
      if (kind === 1) yield* hypercall(s, DESTROY, s.pool[0]);
      s.pool[0] = 0;
      return false;
    }
    s.pool[kind] = r.v0;
  }
  return true;
}

function* destroyPools(s: PoolsState): SimGuest {
  for (let kind = 0; kind < 2; kind++) {
    const r = yield* hypercall(s, DESTROY, s.pool[kind]!);
    expect(s, r.status === STATUS.ok);
    s.flushed += r.v0;
  }
  refused(s, (yield* pageCall(s, GET, s.pool[0] | s.in, 0, 0)).status === STATUS.badArgument);
}

function* getExpect(s: PoolsState, round: number, kind: number, o: number, i: number, hit: boolean) {
  const bytes = s.bytes!;
  bytes.fill(POISON, s.in, s.in + PAGE);
  const r = yield* pageCall(s, GET, s.pool[kind]! | s.in, i, o);
  if (r.status !== STATUS.ok) {
    s.errors++;
    return;
  }
  if (!hit) {
    if (r.v0 === 0) s.misses++;
    else s.errors++;
    return;
  }
  if (r.v0 === 0) {
    if (kind === 0) s.lost++;
    else s.errors++;
    return;
  }
  const seed = pageSeed(s, round, kind, o, i);
  let bad = 0;
  for (let k = 0; k < PAGE; k++) if (bytes[s.in + k] !== patternByte(seed, k)) bad++;
  if (bad === 0) s.hits++;
  else s.errors++;
}

export function simPoolsGuest(
  vcpu: number,
  rounds: number,
  arg: number,
  memory: SharedArrayBuffer | undefined,
): SimGuest {
  const regs = new Uint32Array(6);
  const area = GUEST_POOL_AREA + vcpu * 2 * PAGE;
  const s: PoolsState = {
    regs,
    op: { op: 'hypercall', regs },
    bytes: memory ? new Uint8Array(memory) : undefined,
    version: arg & POOLS_CONFIG.VERSION_MASK,
    pool: [0, 0],
    out: area,
    in: area + PAGE,
    oids: SIM_OID_AREA + vcpu * SIM_OID_STRIDE,
    oid: [],
    puts: 0,
    hits: 0,
    misses: 0,
    flushed: 0,
    refused: 0,
    errors: 0,
    lost: 0,
  };
  const memoryKiB = memory ? Math.floor(memory.byteLength / 1024) : 0;
  return workloadGuest(
    vcpu,
    rounds,
    function* round(g: GuestState, r: number): SimGuest {
      if (s.pool[0] === 0) return;
      const bytes = s.bytes!;
      for (let kind = 0; kind < 2; kind++) {
        const pool = s.pool[kind]!;
        for (let o = 0; o < POOLS_OBJECTS; o++) {
          for (let i = 0; i < POOLS_PAGES; i++) {
            const seed = pageSeed(s, r, kind, o, i);
            for (let k = 0; k < PAGE; k++) bytes[s.out + k] = patternByte(seed, k);
            const res = yield* pageCall(s, PUT, pool | s.out, i, o);
            if (res.status === STATUS.ok) s.puts++;
            else s.errors++;
          }
        }
        for (let o = 0; o < POOLS_OBJECTS; o++)
          for (let i = 0; i < POOLS_PAGES; i++) yield* getExpect(s, r, kind, o, i, true);
        for (let o = 0; o < POOLS_OBJECTS; o++) {
          const res = yield* pageCall(s, FLUSH_PAGE, pool, 0, o);
          expect(s, res.status === STATUS.ok && res.v0 === 1);
          s.flushed += res.v0;
          yield* getExpect(s, r, kind, o, 0, false);
        }
        const again = yield* pageCall(s, FLUSH_PAGE, pool, 0, 0);
        expect(s, again.status === STATUS.ok && again.v0 === 0);
        for (let o = 0; o < POOLS_OBJECTS; o++) {
          const res = yield* flushObject(s, pool, o);
          expect(s, res.status === STATUS.ok && res.v0 === POOLS_PAGES - 1);
          s.flushed += res.v0;
          for (let i = 1; i < POOLS_PAGES; i++) yield* getExpect(s, r, kind, o, i, false);
        }
      }
      g.checksum = (Math.imul(g.checksum, 31) + s.hits) >>> 0;
    },
    {
      *start() {
        if (!s.bytes || memoryKiB < Math.floor((area + 2 * PAGE) / 1024)) return;
        for (const word of [CREATE, PUT, GET, FLUSH_PAGE, FLUSH_OBJECT, DESTROY]) {
          if (!(yield* supported(s, word))) return;
        }
        for (let o = 0; o < POOLS_OBJECTS; o++) s.oid.push(makeOid(s.version, vcpu, o));
        storeOids(s);
        yield* createRefused(s, versionFlags(s.version) | RESERVED_FLAG, STATUS.badArgument);
        yield* createRefused(s, versionFlags(UNKNOWN_VERSION), STATUS.notSupported);
        yield* createPools(s);
      },
      *finish(g: GuestState) {
        const on = s.pool[0] !== 0;
        if (on) yield* destroyPools(s);
        yield* report(g, REPORT.POOL_VERSION, on ? s.version : POOLS_OFF);
        yield* report(g, REPORT.POOL_PUTS, s.puts);
        yield* report(g, REPORT.POOL_HITS, s.hits);
        yield* report(g, REPORT.POOL_MISSES, s.misses);
        yield* report(g, REPORT.POOL_FLUSHED, s.flushed);
        yield* report(g, REPORT.POOL_REFUSED, s.refused);
        yield* report(g, REPORT.POOL_ERRORS, s.errors);
        yield* report(g, REPORT.POOL_LOST, s.lost);
      },
    },
  );
}
