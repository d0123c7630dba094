/**
 * Wires streams into a running host (a CallInstaller for `hvkit host`): the stream family's
 * calls on the dispatcher, the host's local stream socket (`hvkit ctl save | restore | migrate`
 * and incoming migrations), and optionally a TCP listener for incoming migrations.
 *
 * Stream family (0x05) calls — tools only, since file paths and socket addresses do not fit in
 * u64 arguments, the transfers themselves go over the stream socket:
 *   0x01 stream.versions   → [version written, oldest version read]
 *   0x02 stream.socket     → [1 when the local stream socket is listening, else 0]
 */

import { type Dispatcher, ok } from '../../calls/dispatcher.ts';
import { FAMILY, STREAM_CALL } from '../../formats/callword/constants.ts';
import { newestStreamVersion, readableVersions } from '../../formats/stream/abi.ts';
import type { CallInstaller } from '../calls-host.ts';
import type { Host } from '../host.ts';
import type { PoolStreamHooks } from './hooks.ts';
import { listenForStreams, listenLocalStreams, type ReceiverOptions, type StreamListener } from './receiver.ts';

export { STREAM_CALL };

export interface StreamInstallOptions {
  /**
   * Also receive migrations at this TCP host:port (or another unix path). Incoming migrations are
   * not authenticated: a TCP address must be loopback or on a trusted network.
   */
  listen?: string;
  /** How long receiving one whole stream may take (default DEFAULT_RECEIVE_DEADLINE_MS). */
  receiveTimeoutMs?: number;
  /** Each wait on a migration peer (ReceiverOptions.timeoutMs, default 10 s). */
  peerTimeoutMs?: number;
  /** How long a destination may take to verify a stream this host sends (default 60 s). */
  verifyTimeoutMs?: number;
  pools?: PoolStreamHooks;
  /** Where listener failures and migrations are reported (default: stderr). */
  log?: (line: string) => void;
}

export function registerStreamCalls(dispatcher: Dispatcher, listening: () => boolean): () => void {
  const versions = readableVersions(newestStreamVersion());
  const offs = [
    dispatcher.register(FAMILY.stream, STREAM_CALL.versions, {
      name: 'stream.versions',
      nargs: 0,
      callers: ['tool'],
      handler: () => ok(BigInt(versions[0]!), BigInt(versions[versions.length - 1]!)),
    }),
    dispatcher.register(FAMILY.stream, STREAM_CALL.socket, {
      name: 'stream.socket',
      nargs: 0,
      callers: ['tool'],
      handler: () => ok(listening() ? 1n : 0n),
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** The installer: `registerHost(program, setExit, { installers: [streamInstaller()] })`. */
export function streamInstaller(options: StreamInstallOptions = {}): CallInstaller {
  return (dispatcher: Dispatcher, host: Host) => {
    const log = options.log ?? ((line: string) => process.stderr.write(`hvkit host: ${line}\n`));
    const receiverOptions: ReceiverOptions = {
      ...(options.pools ? { pools: options.pools } : {}),
      ...(options.receiveTimeoutMs !== undefined ? { receiveTimeoutMs: options.receiveTimeoutMs } : {}),
      ...(options.peerTimeoutMs !== undefined ? { timeoutMs: options.peerTimeoutMs } : {}),
      ...(options.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: options.verifyTimeoutMs } : {}),
      onLog: log,
    };
    const listeners: StreamListener[] = [];
    const wanted: Promise<StreamListener>[] = [listenLocalStreams(host, receiverOptions)];
    if (options.listen !== undefined) wanted.push(listenForStreams(host, options.listen, receiverOptions));
    const settled = Promise.allSettled(wanted).then((results) => {
      for (const r of results) if (r.status === 'fulfilled') listeners.push(r.value);
      return results;
    });
    // Every listener or none: a host that cannot listen where it was told must not start.
    const ready = settled.then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      for (const l of listeners) {
        if (l.endpoint.kind === 'tcp')
          log(`receiving migrations at ${l.address} (unauthenticated: loopback or a trusted network only)`);
      }
    });
    const offCalls = registerStreamCalls(dispatcher, () => listeners.length > 0);
    return {
      ready,
      cleanup: async () => {
        offCalls();
        await settled;
        await Promise.all(listeners.map((l) => l.close()));
      },
    };
  };
}
