/**
 * The numbers of the call-word ABI as TypeScript constants. They mirror schemas/call-word
 * (test/calls/codec.test.ts proves they equal the newest frozen revision).
 */

export const FAMILY = {
  core: 0x00,
  domain: 0x01,
  lifecycle: 0x02,
  stats: 0x03,
  pool: 0x04,
  stream: 0x05,
  experimental: 0xff,
} as const;
export type FamilyName = keyof typeof FAMILY;

/** Annotation bits (masks) of a call word. */
export const ANNOTATION = {
  /** The caller allows the call to be deferred into a batch. */
  mayQueue: 0x01,
} as const;

/** Status codes: 0 ok, negative = a defined error. */
export const STATUS = {
  ok: 0,
  unknownFamily: -1,
  unknownCall: -2,
  reservedBits: -3,
  badArgument: -4,
  notPermitted: -5,
  busy: -6,
  notSupported: -7,
  noSuchDomain: -8,
  invalidState: -9,
  noResources: -10,
  internalError: -11,
  badFrame: -12,
} as const;
export type StatusName = keyof typeof STATUS;

export const CORE_CALL = {
  abiVersion: 0x00,
  queryCall: 0x01,
  families: 0x02,
  calls: 0x03,
  /** Since revision 2 (served by the VMM; the buffer is the call-batch ABI). */
  batchRegister: 0x10,
  batchFlush: 0x11,
} as const;

/** First value of core.query_call (masks). */
export const QUERY_FLAG = { supported: 1n, tool: 2n, guest: 4n } as const;

export const DOMAIN_CALL = {
  count: 0x00,
  get: 0x01,
  create: 0x02,
  destroy: 0x03,
  pause: 0x04,
  unpause: 0x05,
  shutdown: 0x06,
  info: 0x07,
} as const;

export const LIFECYCLE_CALL = { subscribe: 0x00, getDomainState: 0x01, unsubscribe: 0x02 } as const;

/** domain_state codes (same numbers as the domain directory's). */
export const DOMAIN_STATE = { none: 0, running: 1, paused: 2, shutdown: 3, dying: 4, destroyed: 5 } as const;

export const WORKLOAD = { compute: 0, io: 1, mixed: 2 } as const;

/** create_flags masks. */
export const CREATE_FLAG = { paused: 1n } as const;

/** Calls of the pool family (since revision 2; src/host/pools serves them). */
export const POOL_CALL = {
  create: 0x00,
  put: 0x01,
  get: 0x02,
  flushPage: 0x03,
  flushObject: 0x04,
  destroy: 0x05,
  /** Tools only: counters of a domain (or of the host, domid 0). */
  stats: 0x06,
  /** Tools only: one pool of a domain by position. */
  poolInfo: 0x07,
} as const;

/** Calls of the stream family (named since revision 3; src/host/migration serves them). Tools only. */
export const STREAM_CALL = { versions: 0x01, socket: 0x02 } as const;

/** Calls of the experimental family (src/calls/experimental.ts serves them; no stability promise). */
export const EXPERIMENTAL_CALL = { echo: 0x00, add: 0x01, accumulate: 0x02, readTotal: 0x03 } as const;

/** pool_flags: the create flags word of pool.create (masks and the version field). */
export const POOL_FLAG = {
  persistent: 0x1,
  /** Bits 1..23: must be zero (POOL_FLAGS_RESERVED_MASK). */
  reservedMask: 0x00ff_fffe,
  /** The pool ABI version sits in bits 24..31 (POOL_VERSION_SHIFT, POOL_VERSION_MASK). */
  versionShift: 24,
  versionMask: 0xff00_0000,
} as const;

/** pool_version values. */
export const POOL_VERSION = { v0: 0, v1: 1 } as const;

/** pool_page: the pool id's bits in the first argument of put/get (POOL_ID_MASK). */
export const POOL_ID_MASK = 0xfff;

export const FAMILY_SHIFT = 24;
export const CALL_SHIFT = 16;
export const RESERVED_MASK = 0x0000ff00;
export const ANNOTATION_MASK = 0x000000ff;
export const MAX_ARGS = 8;
export const MAX_VALUES = 16;
export const REQUEST_MAGIC = 0x48564351;
export const RESPONSE_MAGIC = 0x48564352;
/** sizeof(request_header) and sizeof(response_header). */
export const HEADER_SIZE = 16;
export const MAX_REQUEST_SIZE = HEADER_SIZE + 8 * MAX_ARGS;
export const MAX_RESPONSE_SIZE = HEADER_SIZE + 8 * MAX_VALUES;

/** The status's name in the ABI (snake case, e.g. "reserved_bits"), or `status <n>` for an unknown one. */
export function statusName(status: number): string {
  for (const [name, value] of Object.entries(STATUS)) {
    if (value === status) return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }
  return `status ${status}`;
}

/** First value of the busy frame that refuses a connection over the limit ('BUSY' in ASCII). */
export const BUSY_REFUSAL = 0x4255_5359n;
