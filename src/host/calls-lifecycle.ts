/**
 * The lifecycle family over a Host's LifecycleFeed: subscribe → a handle, get_domain_state →
 * the lowest changed domid with its current state (or "none"), unsubscribe.
 *
 * A handle belongs to the session that subscribed (a control-socket connection, a guest): another
 * session's handle is bad_argument, and a session's handles end when it closes, so a tool that
 * disconnects without unsubscribing leaves nothing behind. Sessionless callers share one owner.
 */

import { type CallContext, CallError, type Dispatcher, ok } from '../calls/dispatcher.ts';
import { FAMILY, LIFECYCLE_CALL, STATUS } from '../formats/callword/constants.ts';
import { encodeDomainState } from '../formats/callword/values.ts';
import type { Host } from './host.ts';
import { type FeedConsumer, NONE } from './lifecycle.ts';

/** Most subscriptions one session may hold at once. */
export const MAX_HANDLES_PER_SESSION = 64;

interface Subscription {
  consumer: FeedConsumer;
  owner: number;
}

export function registerLifecycleCalls(d: Dispatcher, host: Host): () => void {
  const subs = new Map<bigint, Subscription>();
  const perOwner = new Map<number, number>();
  let next = 1n;

  const ownerOf = (ctx: CallContext) => ctx.session?.id ?? 0;
  const end = (handle: bigint) => {
    const s = subs.get(handle);
    if (!s) return;
    subs.delete(handle);
    host.feed.unsubscribe(s.consumer);
    perOwner.set(s.owner, (perOwner.get(s.owner) ?? 1) - 1);
  };
  const lookup = (handle: bigint, ctx: CallContext) => {
    const s = subs.get(handle);
    if (!s || s.owner !== ownerOf(ctx)) throw new CallError(STATUS.badArgument, `no subscription ${handle}`);
    return s;
  };

  const offs = [
    d.register(FAMILY.lifecycle, LIFECYCLE_CALL.subscribe, {
      name: 'lifecycle.subscribe',
      nargs: 0,
      handler: (_args, ctx) => {
        const owner = ownerOf(ctx);
        const held = perOwner.get(owner) ?? 0;
        if (held >= MAX_HANDLES_PER_SESSION) throw new CallError(STATUS.noResources, 'too many subscriptions');
        const handle = next++;
        subs.set(handle, { consumer: host.feed.subscribe(), owner });
        perOwner.set(owner, held + 1);
        ctx.session?.onClose(() => end(handle));
        return ok(handle);
      },
    }),
    d.register(FAMILY.lifecycle, LIFECYCLE_CALL.getDomainState, {
      name: 'lifecycle.get_domain_state',
      nargs: 1,
      handler: ([handle], ctx) => {
        const s = lookup(handle!, ctx);
        const r = host.feed.getDomainState(s.consumer);
        return ok(...encodeDomainState(r === NONE ? undefined : r));
      },
    }),
    d.register(FAMILY.lifecycle, LIFECYCLE_CALL.unsubscribe, {
      name: 'lifecycle.unsubscribe',
      nargs: 1,
      queueable: true,
      handler: ([handle], ctx) => {
        lookup(handle!, ctx);
        end(handle!);
        return ok();
      },
    }),
  ];
  return () => {
    for (const off of offs) off();
    for (const handle of [...subs.keys()]) end(handle);
  };
}
