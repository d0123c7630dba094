/**
 * The one call dispatcher (DESIGN §4): guests (hypercalls) and tools (the control socket) hand it
 * a call word and u64 arguments; it answers a status and u64 values — a defined error for every
 * word it cannot serve, never garbage, never an exception.
 *
 * Rules, in order:
 *   1. reserved bits (15..8) not zero            → reserved_bits
 *   2. no such family / no such call              → unknown_family / unknown_call
 *   3. the caller kind may not make the call      → not_permitted
 *   4. more than MAX_ARGS arguments, or one that is not a u64 → bad_argument
 *   5. the handler runs with its arguments padded with zeros to the count it declared (a missing
 *      argument reads as zero, as an unused register would); annotation bits the call does not
 *      honour are ignored. A handler's CallError becomes its status; anything else it throws, or
 *      an answer that breaks the ABI (status not s32, too many values, a value not a u64),
 *      becomes internal_error.
 *
 * Families and calls are registered by the code that implements them (core/domain/lifecycle here,
 * pools and streams by their own modules); `features()` answers the core family's queries.
 */
import { InternalError, UsageError } from '../errors.ts';
import { ANNOTATION, MAX_ARGS, MAX_VALUES, STATUS } from '../formats/callword/constants.ts';
import { decodeCallWord } from '../formats/callword/word.ts';

export type CallerKind = 'guest' | 'tool';
export type Caller = { kind: 'guest'; domid: number; vcpu: number } | { kind: 'tool' };

/**
 * What a caller's calls share: a control-socket connection, or a guest. Resources a call hands
 * out (e.g. lifecycle handles) belong to the session and are released when it closes.
 */
export interface CallSession {
  readonly id: number;
  /** Registers a cleanup to run once when the session ends. */
  onClose(cleanup: () => void): void;
}

export interface CallContext {
  caller: Caller;
  session?: CallSession;
}

/** What a handler sees: the transport's context plus the honoured annotation bits of the word. */
export interface HandlerContext extends CallContext {
  /** The word's annotation bits that this call honours (the rest were ignored). */
  annotations: number;
}

export interface CallOutcome {
  /** 0 = ok, negative = a STATUS code. */
  status: number;
  /** Empty unless status is ok; at most MAX_VALUES u64s. */
  values: bigint[];
}

export type CallHandler = (args: readonly bigint[], ctx: HandlerContext) => CallOutcome | Promise<CallOutcome>;

export interface CallDefinition {
  /** "family.call", e.g. "domain.create". */
  name: string;
  handler: CallHandler;
  /** Arguments the call reads (missing ones are zero); default MAX_ARGS. */
  nargs?: number;
  /** The call may be deferred into a batch: it honours ANNOTATION.mayQueue. */
  queueable?: boolean;
  /** Other annotation bits the call honours. */
  annotations?: number;
  /** Who may make the call; default both guests and tools. */
  callers?: readonly CallerKind[];
}

/** A call's entry in the feature query. */
export interface CallFeature {
  family: number;
  call: number;
  name: string;
  /** Annotation bits honoured (ANNOTATION.mayQueue when queueable). */
  annotations: number;
  callers: readonly CallerKind[];
}

/** Thrown by a handler to answer a defined error status. */
export class CallError extends UsageError {
  override readonly name = 'CallError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function ok(...values: bigint[]): CallOutcome {
  return { status: STATUS.ok, values };
}

export function fail(status: number): CallOutcome {
  return { status, values: [] };
}

const U64_MAX = (1n << 64n) - 1n;
const ALL_CALLERS: readonly CallerKind[] = ['guest', 'tool'];

interface Registered extends CallFeature {
  handler: CallHandler;
  nargs: number;
}

export interface DispatcherOptions {
  /**
   * Told about handler failures that became internal_error, and about anything else the host's
   * calls report as a defect (default: one line on stderr — a defect is never silent).
   */
  onInternalError?: (name: string, error: unknown) => void;
}

export class Dispatcher {
  /** family → call → registration. */
  readonly #families = new Map<number, Map<number, Registered>>();
  readonly #onInternalError: (name: string, error: unknown) => void;

  constructor(options: DispatcherOptions = {}) {
    this.#onInternalError = options.onInternalError ?? reportToStderr;
  }

  /** Reports a defect found outside a handler (e.g. an installer's background work). */
  reportInternalError(name: string, error: unknown): void {
    this.#onInternalError(name, error);
  }

  /** Registers a call; returns a function that removes it. Registering a taken number throws. */
  register(family: number, call: number, def: CallDefinition): () => void {
    for (const [what, v] of [
      ['family', family],
      ['call', call],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${what} ${v} is not in 0..255`);
    }
    const nargs = def.nargs ?? MAX_ARGS;
    if (!Number.isInteger(nargs) || nargs < 0 || nargs > MAX_ARGS) {
      throw new RangeError(`${def.name}: nargs ${nargs} is not in 0..${MAX_ARGS}`);
    }
    const annotations = ((def.annotations ?? 0) | (def.queueable ? ANNOTATION.mayQueue : 0)) & 0xff;
    let calls = this.#families.get(family);
    if (!calls) {
      calls = new Map();
      this.#families.set(family, calls);
    }
    const taken = calls.get(call);
    if (taken) throw new InternalError(`call ${family}.${call} is already registered (${taken.name})`);
    const entry: Registered = {
      family,
      call,
      name: def.name,
      annotations,
      callers: [...(def.callers ?? ALL_CALLERS)],
      handler: def.handler,
      nargs,
    };
    calls.set(call, entry);
    return () => {
      const now = this.#families.get(family);
      if (now?.get(call) !== entry) return;
      now.delete(call);
      if (now.size === 0) this.#families.delete(family);
    };
  }

  /** Serves one call. Never rejects: every failure is a status. */
  async dispatch(word: number, args: readonly bigint[], ctx: CallContext): Promise<CallOutcome> {
    if (!Number.isInteger(word) || word < 0 || word > 0xffff_ffff) return fail(STATUS.badArgument);
    const w = decodeCallWord(word);
    if (w.reserved !== 0) return fail(STATUS.reservedBits);
    const calls = this.#families.get(w.family);
    if (!calls) return fail(STATUS.unknownFamily);
    const entry = calls.get(w.call);
    if (!entry) return fail(STATUS.unknownCall);
    if (!entry.callers.includes(ctx.caller.kind)) return fail(STATUS.notPermitted);
    if (args.length > MAX_ARGS) return fail(STATUS.badArgument);
    const padded: bigint[] = [];
    for (let i = 0; i < entry.nargs; i++) {
      const a = i < args.length ? args[i] : 0n;
      if (typeof a !== 'bigint' || a < 0n || a > U64_MAX) return fail(STATUS.badArgument);
      padded.push(a);
    }
    for (let i = entry.nargs; i < args.length; i++) {
      const a = args[i];
      if (typeof a !== 'bigint' || a < 0n || a > U64_MAX) return fail(STATUS.badArgument);
    }
    let outcome: CallOutcome;
    try {
      outcome = await entry.handler(padded, { ...ctx, annotations: w.annotation & entry.annotations });
    } catch (e) {
      if (e instanceof CallError && validStatus(e.status) && e.status !== STATUS.ok) return fail(e.status);
      this.#onInternalError(entry.name, e);
      return fail(STATUS.internalError);
    }
    return this.#checked(entry.name, outcome);
  }

  /** The feature query the core family answers. */
  features(): Features {
    return new Features(this.#families);
  }

  #checked(name: string, outcome: CallOutcome): CallOutcome {
    const bad = (why: string) => {
      this.#onInternalError(name, new InternalError(`handler answered ${why}`));
      return fail(STATUS.internalError);
    };
    if (!outcome || !validStatus(outcome.status)) return bad('a status that is not an s32');
    if (outcome.status !== STATUS.ok) return fail(outcome.status);
    if (!Array.isArray(outcome.values) || outcome.values.length > MAX_VALUES) return bad('too many values');
    for (const v of outcome.values) {
      if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) return bad('a value that is not a u64');
    }
    return { status: STATUS.ok, values: [...outcome.values] };
  }
}

function validStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && status >= -0x8000_0000 && status <= 0x7fff_ffff;
}

/** A read-only view of what a dispatcher serves (live: it reflects later registrations). */
export class Features {
  readonly #families: ReadonlyMap<number, ReadonlyMap<number, Registered>>;

  constructor(families: ReadonlyMap<number, ReadonlyMap<number, Registered>>) {
    this.#families = families;
  }

  /** Family numbers served, ascending. */
  families(): number[] {
    return [...this.#families.keys()].sort((a, b) => a - b);
  }

  /** Call numbers of a family, ascending (empty for an absent family). */
  calls(family: number): number[] {
    return [...(this.#families.get(family)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** The call a word names (annotation bits ignored), or undefined when it is not served. */
  query(word: number): CallFeature | undefined {
    if (!Number.isInteger(word) || word < 0 || word > 0xffff_ffff) return undefined;
    const w = decodeCallWord(word);
    if (w.reserved !== 0) return undefined;
    const e = this.#families.get(w.family)?.get(w.call);
    if (!e) return undefined;
    return { family: e.family, call: e.call, name: e.name, annotations: e.annotations, callers: [...e.callers] };
  }

  /** Every call served, by family then call number. */
  all(): CallFeature[] {
    const out: CallFeature[] = [];
    for (const family of this.families()) {
      for (const call of this.calls(family)) {
        const e = this.#families.get(family)!.get(call)!;
        out.push({ family, call, name: e.name, annotations: e.annotations, callers: [...e.callers] });
      }
    }
    return out;
  }
}

/** A session for callers that have none of their own (cleanups run when `close()` is called). */
export class LocalSession implements CallSession {
  static #next = 1;
  readonly id = LocalSession.#next++;
  readonly #cleanups: (() => void)[] = [];
  #closed = false;

  onClose(cleanup: () => void): void {
    if (this.#closed) cleanup();
    else this.#cleanups.push(cleanup);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    runAll(this.#cleanups.splice(0).reverse());
  }

  get closed(): boolean {
    return this.#closed;
  }
}

function reportToStderr(name: string, error: unknown): void {
  process.stderr.write(`hvkit: internal error in ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
}

/**
 * Runs every cleanup even when some fail, then throws the failures (one InternalError naming how
 * many failed, the first as its cause): a failed cleanup is a defect to see, not to swallow.
 */
export function runAll(cleanups: readonly (() => void)[]): void {
  const failures: unknown[] = [];
  for (const c of cleanups) {
    try {
      c();
    } catch (e) {
      failures.push(e);
    }
  }
  throwFailures(failures);
}

/** The async form of runAll: cleanups run one after another, in order. */
export async function runAllAsync(cleanups: readonly (() => void | Promise<void>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const c of cleanups) {
    try {
      await c();
    } catch (e) {
      failures.push(e);
    }
  }
  throwFailures(failures);
}

function throwFailures(failures: unknown[]): void {
  if (failures.length === 0) return;
  const first = failures[0];
  const text = first instanceof Error ? first.message : String(first);
  const error = new InternalError(`${failures.length} cleanup(s) failed; the first: ${text}`);
  (error as { cause?: unknown }).cause = first;
  throw error;
}
