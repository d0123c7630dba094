/**
 * A domain's hypercall service on the host thread: it answers each vCPU's mailbox requests —
 * batch registration and flushes itself (it owns the domain's guest memory), every other call
 * through the host's dispatcher, as a guest caller of this domain and vCPU sharing one session
 * per domain (closed with the domain).
 *
 * The batch calls are served here only when the dispatcher lists them (registerBatchCalls): a
 * guest's feature query and what it gets agree.
 */

import { type CallContext, CallError, type CallOutcome, type Dispatcher, LocalSession } from '../calls/dispatcher.ts';
import { BATCH_CALL } from '../formats/callbatch/constants.ts';
import { FAMILY, STATUS } from '../formats/callword/constants.ts';
import {
  BATCH_FLUSH_WORD,
  BATCH_REGISTER_WORD,
  BatchHost,
  type CallSink,
  withoutAnnotation,
} from './call-batch-host.ts';
import { createMailboxBuffer, type MailboxRequest, MailboxServer } from './call-mailbox.ts';
import type { GuestMemoryAccess } from './guest-memory.ts';

export type { CallSink } from './call-batch-host.ts';

export interface GuestCallOptions {
  domid: number;
  vcpus: number;
  /** The host's dispatcher; absent: every hypercall answers unknown_family. */
  sink?: CallSink;
  /** Guest memory as the host thread sees it; absent: batch calls answer not_supported. */
  memory?: GuestMemoryAccess;
  /** Most batch entries one flush processes (default: a whole batch). */
  batchBudget?: number;
}

export class GuestCallService {
  /** The mailbox buffer to hand to the vCPU workers. */
  readonly mailbox: SharedArrayBuffer;
  readonly #server: MailboxServer;
  readonly #session = new LocalSession();
  readonly #contexts: CallContext[];
  readonly #batches: BatchHost | undefined;
  readonly #sink: CallSink | undefined;

  constructor(options: GuestCallOptions) {
    this.#sink = options.sink;
    this.#contexts = Array.from({ length: options.vcpus }, (_, vcpu) => ({
      caller: { kind: 'guest', domid: options.domid, vcpu },
      session: this.#session,
    }));
    this.#batches =
      options.sink && options.memory
        ? new BatchHost(options.vcpus, options.memory, options.sink, options.batchBudget)
        : undefined;
    this.mailbox = createMailboxBuffer(options.vcpus);
    this.#server = new MailboxServer(
      this.mailbox,
      options.vcpus,
      (r) => this.#handle(r),
      STATUS.internalError,
      (e) => options.sink?.reportInternalError(`guest call of domain ${options.domid}`, e),
    );
  }

  async #handle({ vcpu, word, args }: MailboxRequest): Promise<CallOutcome> {
    const sink = this.#sink;
    if (!sink) return { status: STATUS.unknownFamily, values: [] };
    const ctx = this.#contexts[vcpu]!;
    const key = withoutAnnotation(word);
    if ((key === BATCH_REGISTER_WORD || key === BATCH_FLUSH_WORD) && sink.features().query(word)) {
      const batches = this.#batches;
      if (!batches) return { status: STATUS.notSupported, values: [] };
      return key === BATCH_REGISTER_WORD ? batches.register(vcpu, args[0]!) : batches.flush(vcpu, ctx);
    }
    return sink.dispatch(word, args, ctx);
  }

  /** Stops serving and closes the domain's guest session (its call resources are released). */
  async close(): Promise<void> {
    await this.#server.close();
    this.#session.close();
  }
}

/**
 * Lists the batch calls (core.batch_register, core.batch_flush; guests only) on `dispatcher`.
 * The VMM serves them for its guests; reaching the handler means the caller has no VMM behind it.
 */
export function registerBatchCalls(dispatcher: Dispatcher): () => void {
  const notHere = (): never => {
    throw new CallError(STATUS.notSupported, 'batches are served by the VMM of the calling guest');
  };
  const removers = [
    dispatcher.register(FAMILY.core, BATCH_CALL.register, {
      name: 'core.batch_register',
      nargs: 1,
      callers: ['guest'],
      handler: notHere,
    }),
    dispatcher.register(FAMILY.core, BATCH_CALL.flush, {
      name: 'core.batch_flush',
      nargs: 0,
      callers: ['guest'],
      handler: notHere,
    }),
  ];
  return () => {
    for (const r of removers) r();
  };
}

/**
 * A sink to give a backend before the dispatcher exists (the host's dispatcher is made after the
 * host, which needs its backend first): attach() it later; until then hypercalls answer
 * unknown_family, as with no dispatcher at all.
 */
export class CallSinkSlot implements CallSink {
  #sink: CallSink | undefined;

  attach(sink: CallSink | undefined): void {
    this.#sink = sink;
  }

  dispatch(word: number, args: readonly bigint[], ctx: CallContext): Promise<CallOutcome> {
    const sink = this.#sink;
    return sink ? sink.dispatch(word, args, ctx) : Promise.resolve({ status: STATUS.unknownFamily, values: [] });
  }

  features(): { query(word: number): { annotations: number } | undefined } {
    return this.#sink ? this.#sink.features() : { query: () => undefined };
  }

  reportInternalError(name: string, error: unknown): void {
    if (this.#sink) this.#sink.reportInternalError(name, error);
    else process.stderr.write(`hvkit: internal error in ${name}: ${error instanceof Error ? error.message : error}\n`);
  }
}
