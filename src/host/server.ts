/**
 * A host serving its control socket: what `hvkit host` runs, and what tests and other tools
 * (a migration destination) start in-process. Stopping closes the socket first (no new calls),
 * then the dispatcher's families, then the host (every domain destroyed, every region removed).
 * Starting is all or nothing: when any part fails (a listener that cannot bind, the control
 * socket, a domain to create) everything started is stopped before the error goes on.
 */

import type { Dispatcher } from '../calls/dispatcher.ts';
import { describeError, EnvironmentError } from '../errors.ts';
import { CallSinkSlot } from '../vmm/guest-calls.ts';
import { openBackend, selectBackend } from '../vmm/select.ts';
import { type CallInstaller, createHostDispatcher } from './calls-host.ts';
import { ControlSocket, type ControlSocketOptions } from './control-socket.ts';
import { type CreateDomainOptions, type DomainInfo, Host, type HostOptions } from './host.ts';

export interface HostServerOptions {
  /** The host's options but its backend, which the server chooses and owns. */
  host?: Omit<HostOptions, 'backend' | 'backendReason' | 'ownsBackend'>;
  socket?: ControlSocketOptions;
  /** Families beyond core/domain/lifecycle (pools, streams …). */
  installers?: readonly CallInstaller[];
  /** Domains to create once serving. */
  domains?: readonly CreateDomainOptions[];
  /** Told about handler failures answered as internal_error. */
  onInternalError?: (call: string, error: unknown) => void;
}

export interface HostServer {
  host: Host;
  dispatcher: Dispatcher;
  socket: ControlSocket;
  /** The domains created at start. */
  domains: DomainInfo[];
  stop(): Promise<void>;
}

export async function startHostServer(options: HostServerOptions = {}): Promise<HostServer> {
  // Guests' hypercalls and tools' control-socket calls go to the one dispatcher: the backend
  // gets a slot now and the dispatcher is attached to it as soon as it exists.
  const guestCalls = new CallSinkSlot();
  // The composition root chooses the VMM (KVM when usable; HVKIT_BACKEND forces) and owns it.
  const choice = selectBackend();
  const backend = openBackend(choice, { calls: guestCalls });
  let host: Host;
  try {
    host = Host.start({ ...options.host, backend, backendReason: choice.reason, ownsBackend: true });
  } catch (e) {
    await backend.close();
    throw e;
  }
  let calls: ReturnType<typeof createHostDispatcher> | undefined;
  let socket: ControlSocket | undefined;
  const stop = async () => {
    guestCalls.attach(undefined);
    await socket?.close();
    await calls?.close();
    await host.stop();
  };
  try {
    calls = createHostDispatcher(host, options.installers, {
      ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
    });
    guestCalls.attach(calls.dispatcher);
    // All or nothing: the control socket (how tools find a host) appears only once every
    // installer's listener is up; any failure stops what started and removes what was created.
    await calls.ready;
    socket = await ControlSocket.listen(host.identity, calls.dispatcher, {
      ...(options.onInternalError
        ? { onInternalError: (what: string, e: unknown) => options.onInternalError?.(`control socket (${what})`, e) }
        : {}),
      ...options.socket,
    });
    const domains: DomainInfo[] = [];
    for (const d of options.domains ?? []) domains.push(await host.createDomain(d));
    let stopping: Promise<void> | undefined;
    return {
      host,
      dispatcher: calls.dispatcher,
      socket,
      domains,
      stop: () => {
        stopping ??= stop();
        return stopping;
      },
    };
  } catch (e) {
    try {
      await stop();
    } catch (undo) {
      // What started may still run (a socket, a domain): the caller hears it with the failure.
      throw new EnvironmentError(
        `starting the host failed (${describeError(e)}) and stopping what had started failed too: ${describeError(undo)}`,
        { cause: e },
      );
    }
    throw e;
  }
}
