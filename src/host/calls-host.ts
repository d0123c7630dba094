/**
 * The dispatcher of a host: the core, domain and lifecycle families, plus whatever installers the
 * caller adds (page pools, streams … — each module registers its own family on the same
 * dispatcher).
 */

import { registerCoreCalls } from '../calls/core.ts';
import { Dispatcher, type DispatcherOptions, runAllAsync } from '../calls/dispatcher.ts';
import { shippedCallWordAbi } from '../formats/callword/abi.ts';
import { registerDomainCalls } from './calls-domain.ts';
import { registerLifecycleCalls } from './calls-lifecycle.ts';
import type { Host } from './host.ts';

type Cleanup = () => void | Promise<void>;

/**
 * What an installer that starts something asynchronous (a listening socket) returns: its cleanup,
 * and `ready`, settled once what it started is up — rejected when it could not start, which makes
 * the host's start fail as a whole.
 */
export interface Installed {
  cleanup: Cleanup;
  ready: Promise<void>;
}

/**
 * Adds calls to a host's dispatcher; may return a cleanup, run (in reverse order) when the
 * dispatcher is closed, before the host stops — or an Installed, to be waited for at start.
 */
export type CallInstaller = (dispatcher: Dispatcher, host: Host) => undefined | Cleanup | Installed;

export interface HostDispatcher {
  dispatcher: Dispatcher;
  /** Settles once every installer's start is done; rejects with the first that failed. */
  ready: Promise<void>;
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
  const readies: Promise<void>[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    // Every cleanup runs even when one fails; the failures are thrown after.
    closing ??= runAllAsync(cleanups.reverse());
    return closing;
  };
  try {
    for (const install of installers) {
      const installed = install(dispatcher, host);
      if (typeof installed === 'function') cleanups.push(installed);
      else if (installed) {
        cleanups.push(installed.cleanup);
        readies.push(installed.ready);
      }
    }
  } catch (e) {
    // All or nothing: what the earlier installers started is stopped before the failure goes on.
    close().catch((failed) => dispatcher.reportInternalError('cleanup after a failed start', failed));
    throw e;
  }
  const ready = Promise.all(readies).then(() => {});
  // Observed here so that a start failure nobody waits for is not an unhandled rejection.
  ready.catch(() => {});
  return { dispatcher, ready, close };
}
