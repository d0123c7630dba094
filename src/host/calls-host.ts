/**
 * The dispatcher of a host: the core, domain and lifecycle families, plus whatever installers the
 * caller adds (page pools, streams … — each module registers its own family on the same
 * dispatcher).
 */
import { shippedCallWordAbi } from '../formats/callword/abi.ts';
import { registerCoreCalls } from './calls-core.ts';
import { registerDomainCalls } from './calls-domain.ts';
import { registerLifecycleCalls } from './calls-lifecycle.ts';
import { Dispatcher, type DispatcherOptions, runAllAsync } from './dispatcher.ts';
import type { Host } from './host.ts';

/**
 * Adds calls to a host's dispatcher; may return a cleanup, run (in reverse order) when the
 * dispatcher is closed, before the host stops.
 */
export type CallInstaller = (dispatcher: Dispatcher, host: Host) => undefined | (() => void | Promise<void>);

export interface HostDispatcher {
  dispatcher: Dispatcher;
  /** Unregisters everything and runs the installers' cleanups. */
  close(): Promise<void>;
}

export function createHostDispatcher(
  host: Host,
  installers: readonly CallInstaller[] = [],
  options: DispatcherOptions = {},
): HostDispatcher {
  const dispatcher = new Dispatcher(options);
  const abi = shippedCallWordAbi();
  const cleanups: (() => void | Promise<void>)[] = [
    registerCoreCalls(dispatcher, { abi: { major: abi.major, revision: abi.revision } }),
    registerDomainCalls(dispatcher, host),
    registerLifecycleCalls(dispatcher, host),
  ];
  for (const install of installers) {
    const cleanup = install(dispatcher, host);
    if (cleanup) cleanups.push(cleanup);
  }
  let closing: Promise<void> | undefined;
  return {
    dispatcher,
    close() {
      // Every cleanup runs even when one fails; the failures are thrown after.
      closing ??= runAllAsync(cleanups.reverse());
      return closing;
    },
  };
}
