/**
 * The simulated `calls` guest: guest/calls/calls.c and guest/common/calls.c re-told step for step
 * (same hypercalls, same batch buffer bytes in guest memory, same checks and reports), so a
 * simulated run and a KVM run produce the same report sequence. Keep them in sync.
 */
import {
  BATCH_MAGIC,
  ENTRY_OFFSET,
  ENTRY_SIZE,
  HEADER_OFFSET,
  HEADER_SIZE,
  MAX_CAPACITY,
  STATUS_PENDING,
} from '../formats/callbatch/constants.ts';
import { ANNOTATION, QUERY_FLAG, STATUS } from '../formats/callword/constants.ts';
import {
  CALLS_CONFIG,
  GUEST_BATCH_AREA,
  GUEST_BATCH_CAPACITY,
  GUEST_BATCH_STRIDE,
  guestDefines,
  REPORT,
  WORKLOAD,
} from './guest-abi.ts';
import { type GuestState, report, type SimGuest, workloadGuest } from './sim-workloads.ts';

const UNKNOWN_FAMILY_WORD = 0xfe00_0000;
const UNKNOWN_CALL_WORD = 0xff7f_0000;
const RESERVED_BIT = 0x100;
const UNKNOWN_ANNOTATION = 0x80;
const FAR_ADDRESS = 0xffff_f000;
const U32 = 2 ** 32;

/** The call words the C guest gets as -D definitions. */
function words() {
  const d = guestDefines();
  const w = (name: string) => Number(d[name]);
  return {
    query: w('HVKIT_CALL_QUERY'),
    register: w('HVKIT_CALL_BATCH_REGISTER'),
    flush: w('HVKIT_CALL_BATCH_FLUSH'),
    echo: w('HVKIT_CALL_ECHO'),
    add: w('HVKIT_CALL_ADD'),
    accumulate: w('HVKIT_CALL_ACCUMULATE'),
    readTotal: w('HVKIT_CALL_READ_TOTAL'),
  };
}

interface Hc {
  status: number;
  v0: number;
  v1: number;
  v2: number;
}

interface CallsState {
  regs: Uint32Array;
  /** The one hypercall operation this guest yields, again and again (no allocation per call). */
  op: { op: 'hypercall'; regs: Uint32Array };
  mem: DataView | undefined;
  /** Buffer address; 0 = none. */
  buffer: number;
  limit: number;
  flushes: number;
  batch: number;
  calls: number;
  errors: number;
  refused: number;
  expectedTotal: number;
  expected: bigint[];
}

function* hypercall(s: CallsState, word: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): Generator<never, Hc, number> {
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

function* call(s: CallsState, word: number, a0 = 0, a1 = 0): Generator<never, Hc, number> {
  s.calls++;
  return yield* hypercall(s, word >>> 0, a0 >>> 0, a1 >>> 0);
}

const expect = (s: CallsState, ok: boolean) => {
  if (!ok) s.errors++;
};

// ---- guest memory (the batch buffer) -----------------------------------------------------------

const hdr = (s: CallsState, field: keyof typeof HEADER_OFFSET) => s.buffer + HEADER_OFFSET[field];
const getH = (s: CallsState, field: keyof typeof HEADER_OFFSET) => s.mem!.getUint32(hdr(s, field), true);
const setH = (s: CallsState, field: keyof typeof HEADER_OFFSET, v: number) =>
  s.mem!.setUint32(hdr(s, field), v >>> 0, true);
const entryAt = (s: CallsState, i: number) => s.buffer + HEADER_SIZE + i * ENTRY_SIZE;

function writeEntry(s: CallsState, i: number, word: number, a0: number, a1: number): void {
  const m = s.mem!;
  const at = entryAt(s, i);
  m.setUint32(at + ENTRY_OFFSET.word, word >>> 0, true);
  m.setInt32(at + ENTRY_OFFSET.status, STATUS_PENDING, true);
  m.setBigUint64(at + ENTRY_OFFSET.result, 0n, true);
  m.setBigUint64(at + ENTRY_OFFSET.args, BigInt(a0 >>> 0), true);
  m.setBigUint64(at + ENTRY_OFFSET.args + 8, BigInt(a1 >>> 0), true);
  for (let k = 2; k < 5; k++) m.setBigUint64(at + ENTRY_OFFSET.args + 8 * k, 0n, true);
  m.setBigUint64(at + ENTRY_OFFSET.reserved, 0n, true);
}

// ---- the call queue (guest/common/calls.c) -----------------------------------------------------

function* queueInit(
  s: CallsState,
  address: number,
  capacity: number,
  limit: number,
): Generator<never, boolean, number> {
  s.buffer = address;
  s.limit = limit;
  s.flushes = 0;
  setH(s, 'magic', BATCH_MAGIC);
  setH(s, 'capacity', capacity);
  setH(s, 'count', 0);
  setH(s, 'next', 0);
  setH(s, 'flags', 0);
  for (let i = 0; i < 12; i++) s.mem!.setUint8(hdr(s, 'reserved') + i, 0);
  return (yield* hypercall(s, words().register, address)).status === STATUS.ok;
}

function* flushOnce(s: CallsState): Generator<never, Hc, number> {
  s.flushes++;
  return yield* hypercall(s, words().flush);
}

function* queueFlush(s: CallsState): SimGuest {
  const count = getH(s, 'count');
  if (count === 0) return;
  for (;;) {
    const r = yield* flushOnce(s);
    if (r.status !== STATUS.ok || r.v1 >= r.v2) break;
  }
  for (let i = 0; i < count; i++) {
    const at = entryAt(s, i);
    const status = s.mem!.getInt32(at + ENTRY_OFFSET.status, true);
    const result = s.mem!.getBigUint64(at + ENTRY_OFFSET.result, true);
    expect(s, status === STATUS.ok && result === s.expected[i]);
  }
  setH(s, 'count', 0);
  setH(s, 'next', 0);
}

function* queueAdd(s: CallsState, word: number, a0: number, a1: number): SimGuest {
  const i = getH(s, 'count');
  writeEntry(s, i, word | ANNOTATION.mayQueue, a0, a1);
  setH(s, 'count', i + 1);
  if (i + 1 >= s.limit) yield* queueFlush(s);
}

// ---- the workload (guest/calls/calls.c) --------------------------------------------------------

function* issue(s: CallsState, word: number, a0: number, a1: number, expected: number): SimGuest {
  s.calls++;
  if (s.batch !== 0) {
    s.expected[getH(s, 'count')] = BigInt(expected);
    yield* queueAdd(s, word, a0, a1);
    return;
  }
  const r = yield* hypercall(s, (word | ANNOTATION.mayQueue) >>> 0, a0 >>> 0, a1 >>> 0);
  expect(s, r.status === STATUS.ok && r.v0 === expected % U32);
}

function* supported(s: CallsState, word: number, need: number): Generator<never, boolean, number> {
  const r = yield* call(s, words().query, word);
  const flags = Number(QUERY_FLAG.supported | QUERY_FLAG.guest);
  return r.status === STATUS.ok && (r.v0 & flags) === flags && (r.v1 & need) === need;
}

function* definedErrors(s: CallsState): SimGuest {
  const w = words();
  expect(s, (yield* call(s, w.add | RESERVED_BIT, 1, 2)).status === STATUS.reservedBits);
  expect(s, (yield* call(s, UNKNOWN_FAMILY_WORD)).status === STATUS.unknownFamily);
  expect(s, (yield* call(s, UNKNOWN_CALL_WORD)).status === STATUS.unknownCall);
  let r = yield* call(s, w.add | UNKNOWN_ANNOTATION, 2, 3);
  expect(s, r.status === STATUS.ok && r.v0 === 5);
  s.calls++;
  r = yield* hypercall(s, w.echo, 11, 22, 33, 44, 55);
  expect(s, r.status === STATUS.ok && r.v0 === 11 && r.v1 === 22 && r.v2 === 33);
}

const refused = (s: CallsState, ok: boolean) => {
  if (ok) s.refused++;
  else s.errors++;
};

function* flushRefused(s: CallsState): Generator<never, boolean, number> {
  return (yield* flushOnce(s)).status === STATUS.badArgument;
}

function* hostile(s: CallsState, memoryKiB: number): SimGuest {
  const w = words();
  const capacity = getH(s, 'capacity');
  setH(s, 'count', capacity + 1);
  refused(s, yield* flushRefused(s));
  setH(s, 'count', 0);

  setH(s, 'magic', ~BATCH_MAGIC);
  refused(s, yield* flushRefused(s));
  setH(s, 'magic', BATCH_MAGIC);

  setH(s, 'next', 1);
  refused(s, yield* flushRefused(s));
  setH(s, 'next', 0);

  setH(s, 'capacity', MAX_CAPACITY + 1);
  refused(s, yield* flushRefused(s));
  setH(s, 'capacity', capacity);

  const top = memoryKiB > 1024 ? (memoryKiB * 1024 - 64) >>> 0 : FAR_ADDRESS;
  if (memoryKiB > 1024) {
    const m = s.mem!;
    m.setUint32(top + HEADER_OFFSET.magic, BATCH_MAGIC, true);
    m.setUint32(top + HEADER_OFFSET.capacity, 1, true);
    m.setUint32(top + HEADER_OFFSET.count, 0, true);
    m.setUint32(top + HEADER_OFFSET.next, 0, true);
    m.setUint32(top + HEADER_OFFSET.flags, 0, true);
  }
  refused(s, (yield* hypercall(s, w.register, top)).status === STATUS.badArgument);
  refused(s, (yield* hypercall(s, w.register, FAR_ADDRESS)).status === STATUS.badArgument);

  const at = entryAt(s, 0);
  const m = s.mem!;
  m.setUint32(at + ENTRY_OFFSET.word, w.add, true);
  m.setInt32(at + ENTRY_OFFSET.status, STATUS_PENDING, true);
  m.setBigUint64(at + ENTRY_OFFSET.result, 0n, true);
  m.setBigUint64(at + ENTRY_OFFSET.args, 1n, true);
  m.setBigUint64(at + ENTRY_OFFSET.args + 8, 2n, true);
  setH(s, 'count', 1);
  const r = yield* flushOnce(s);
  refused(
    s,
    r.status === STATUS.ok && r.v1 === 1 && m.getInt32(at + ENTRY_OFFSET.status, true) === STATUS.notPermitted,
  );
  setH(s, 'count', 0);
  setH(s, 'next', 0);
}

export function simCallsGuest(
  vcpu: number,
  rounds: number,
  arg: number,
  memory: SharedArrayBuffer | undefined,
): SimGuest {
  const regs = new Uint32Array(6);
  const s: CallsState = {
    regs,
    op: { op: 'hypercall', regs },
    mem: memory ? new DataView(memory) : undefined,
    buffer: 0,
    limit: 0,
    flushes: 0,
    batch: 0,
    calls: 0,
    errors: 0,
    refused: 0,
    expectedTotal: 0,
    expected: new Array<bigint>(GUEST_BATCH_CAPACITY).fill(0n),
  };
  const memoryKiB = memory ? Math.floor(memory.byteLength / 1024) : 0;
  const w = words();
  return workloadGuest(
    vcpu,
    rounds,
    function* round(g: GuestState, r: number): SimGuest {
      for (let j = 0; j < WORKLOAD.CALLS_PER_ROUND; j++) {
        if ((j & 3) === 3) {
          const a = (Math.imul(r, 1000) + j) >>> 0;
          yield* issue(s, w.add, a, j, a + j);
        } else {
          const x = (r + j) >>> 0;
          s.expectedTotal += x;
          yield* issue(s, w.accumulate, x, 0, s.expectedTotal);
        }
      }
      if (s.batch !== 0) yield* queueFlush(s);
      const res = yield* call(s, w.readTotal);
      expect(s, res.status === STATUS.ok && res.v0 === s.expectedTotal % U32);
      g.checksum = (Math.imul(g.checksum, 31) + res.v0) >>> 0;
    },
    {
      *start() {
        yield* definedErrors(s);
        let batch = arg & CALLS_CONFIG.BATCH_MASK;
        if (batch > GUEST_BATCH_CAPACITY) batch = GUEST_BATCH_CAPACITY;
        if (
          batch !== 0 &&
          s.mem &&
          (yield* supported(s, w.register, 0)) &&
          (yield* supported(s, w.flush, 0)) &&
          (yield* supported(s, w.accumulate, ANNOTATION.mayQueue)) &&
          (yield* supported(s, w.add, ANNOTATION.mayQueue)) &&
          (yield* queueInit(s, GUEST_BATCH_AREA + vcpu * GUEST_BATCH_STRIDE, GUEST_BATCH_CAPACITY, batch))
        ) {
          s.batch = batch;
        }
        if (s.batch !== 0 && (arg & CALLS_CONFIG.HOSTILE) !== 0) yield* hostile(s, memoryKiB);
      },
      *finish(g: GuestState) {
        yield* report(g, REPORT.BATCH_SIZE, s.batch);
        yield* report(g, REPORT.CALLS, s.calls);
        yield* report(g, REPORT.FLUSHES, s.flushes);
        yield* report(g, REPORT.CALL_ERRORS, s.errors);
        yield* report(g, REPORT.REFUSED, s.refused);
      },
    },
  );
}
