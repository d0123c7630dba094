/**
 * The experimental family (0xFF): side-effect-free calls that exercise the call paths — direct
 * hypercalls, batches, the control socket — without touching any domain. No stability promise.
 *
 *   echo (0x00, may be queued)       args [a0..a4] → values [a0..a4]
 *   add (0x01, may be queued)        args [a, b] → values [(a + b) mod 2^64]
 *   accumulate (0x02, may be queued) args [x] → values [total], total = the caller's running sum
 *                                    (mod 2^64) after adding x
 *   read_total (0x03, never queued)  no args → values [the caller's running sum]
 *
 * A caller's running sum belongs to its session and vCPU (a guest's vCPU, or a tool connection)
 * and is dropped when the session closes; accumulate then read_total shows whether queued calls
 * were made, and made in order, before a direct call that follows them.
 */
import { EXPERIMENTAL_CALL, FAMILY } from '../formats/callword/constants.ts';
import type { CallSession, Dispatcher, HandlerContext } from './dispatcher.ts';
import { ok } from './dispatcher.ts';

const U64_MASK = (1n << 64n) - 1n;

/** Registers the experimental calls on `dispatcher`; returns a function that removes them. */
export function registerExperimentalCalls(dispatcher: Dispatcher): () => void {
  /** Running sums per session, per vCPU (-1 for tools). */
  const totals = new Map<CallSession | undefined, Map<number, bigint>>();
  const sums = (ctx: HandlerContext): Map<number, bigint> => {
    let m = totals.get(ctx.session);
    if (!m) {
      m = new Map();
      totals.set(ctx.session, m);
      ctx.session?.onClose(() => totals.delete(ctx.session));
    }
    return m;
  };
  const vcpuOf = (ctx: HandlerContext) => (ctx.caller.kind === 'guest' ? ctx.caller.vcpu : -1);
  const f = FAMILY.experimental;
  const removers = [
    dispatcher.register(f, EXPERIMENTAL_CALL.echo, {
      name: 'experimental.echo',
      nargs: 5,
      queueable: true,
      handler: (args) => ok(...args),
    }),
    dispatcher.register(f, EXPERIMENTAL_CALL.add, {
      name: 'experimental.add',
      nargs: 2,
      queueable: true,
      handler: ([a, b]) => ok((a! + b!) & U64_MASK),
    }),
    dispatcher.register(f, EXPERIMENTAL_CALL.accumulate, {
      name: 'experimental.accumulate',
      nargs: 1,
      queueable: true,
      handler: ([x], ctx) => {
        const m = sums(ctx);
        const total = ((m.get(vcpuOf(ctx)) ?? 0n) + x!) & U64_MASK;
        m.set(vcpuOf(ctx), total);
        return ok(total);
      },
    }),
    dispatcher.register(f, EXPERIMENTAL_CALL.readTotal, {
      name: 'experimental.read_total',
      nargs: 0,
      handler: (_args, ctx) => ok(sums(ctx).get(vcpuOf(ctx)) ?? 0n),
    }),
  ];
  return () => {
    for (const r of removers) r();
    totals.clear();
  };
}
