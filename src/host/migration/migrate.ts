/**
 * The source side of a live migration (stop-and-copy; see protocol.ts). The domain keeps running
 * while the connection is set up and the versions are agreed; it is paused only for the copy, and
 * destroyed only once the destination said RUNNING. Every failure before GO is sent unpauses it.
 * Sending GO is the commit point: from then on the destination may be running the guest, so a
 * missing confirmation leaves the source domain paused and raises MigrationOutcomeUnknownError —
 * unpausing it could run the same guest on both hosts.
 */
import { EnvironmentError, UsageError } from '../../errors.ts';
import { newestStreamVersion, readableVersions } from '../../formats/stream/abi.ts';
import { streamPieces } from '../../formats/stream/writer.ts';
import type { Host } from '../host.ts';
import { captureDomain } from './capture.ts';
import { connectEndpoint, describeEndpoint, type Endpoint, parseEndpoint } from './endpoint.ts';
import type { PoolStreamHooks } from './hooks.ts';
import { MIGRATE_IN, oneLine, parseHello, splitLine } from './protocol.ts';
import { Wire } from './wire.ts';

export interface MigrateOptions {
  pools?: PoolStreamHooks;
  /**
   * Connecting, each wait for the destination, and how long sending may go without the destination
   * taking any bytes (default 10 s; the final confirmation 30 s).
   */
  timeoutMs?: number;
  /**
   * How long the destination may take to verify the whole stream and create the domain before it
   * answers READY (default DEFAULT_VERIFY_TIMEOUT_MS). It grows with the guest's memory and the
   * machine's speed, so it is its own setting: an emulated machine needs far more than 10 s.
   */
  verifyTimeoutMs?: number;
  confirmTimeoutMs?: number;
  /** Tests: rewrites stream bytes on their way out (e.g. to corrupt one). */
  transform?: (piece: Uint8Array, offset: number) => Uint8Array;
}

export interface MigrateResult {
  /** The domain's id on the destination host. */
  remoteDomid: number;
  version: number;
  bytes: number;
  /** Milliseconds the domain was paused on the source before the destination confirmed. */
  downtimeMs: number;
}

/** How long a source whose write failed waits for the destination's FAIL line. */
const REASON_GRACE_MS = 1000;

export class MigrationError extends EnvironmentError {
  override readonly name: string = 'MigrationError';
}

/**
 * GO was sent but the destination did not confirm RUNNING: it may or may not be running the guest.
 * The source domain is left paused (never unpaused: that could run the guest twice); whoever
 * started the migration must look at the destination, then destroy or unpause the source.
 */
export class MigrationOutcomeUnknownError extends MigrationError {
  override readonly name: string = 'MigrationOutcomeUnknownError';
  constructor(
    readonly domid: number,
    readonly destination: string,
    readonly reason: string,
  ) {
    super(
      `migration outcome unknown: GO was sent to ${destination} but it did not confirm (${reason}); ` +
        `domain ${domid} is left paused here — check the destination, then destroy or unpause it`,
    );
  }
}

/** Default of MigrateOptions.verifyTimeoutMs: a 256 MiB guest verifies in about 2 s on a real host. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 60_000;

/** Migrates domain `domid` of `host` to the host listening at `to` (socket path or host:port). */
export async function migrate(
  host: Host,
  domid: number,
  to: string | Endpoint,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const endpoint = typeof to === 'string' ? parseEndpoint(to) : to;
  const timeout = options.timeoutMs ?? 10_000;
  if (!host.domain(domid)) throw new UsageError(`no domain ${domid}`);
  const socket = await connectEndpoint(endpoint, timeout);
  const wire = new Wire(socket, { writeStallMs: timeout });
  try {
    await wire.write(`${MIGRATE_IN}\n`);
    const hello = await wire.readLine(timeout, 'the destination’s hello');
    const theirs = parseHello(hello);
    const [helloWord, helloReason] = splitLine(hello);
    if (!theirs && helloWord === 'FAIL')
      throw new MigrationError(`the destination refused the migration: ${oneLine(helloReason)}`);
    if (!theirs)
      throw new MigrationError(`${describeEndpoint(endpoint)} is not a migration listener (${oneLine(hello)})`);
    const ours = readableVersions(newestStreamVersion());
    const version = ours.find((v) => theirs.includes(v));
    if (version === undefined) {
      throw new MigrationError(
        `no common stream version: this host writes ${ours.join(' or ')}, the destination reads ${theirs.join(' and ')}`,
      );
    }
    const captured = await captureDomain(host, domid, {
      migration: true,
      ...(options.pools ? { pools: options.pools } : {}),
    });
    const pausedAt = performance.now();
    let committed = false;
    let result: MigrateResult;
    try {
      let bytes: number;
      try {
        bytes = await wire.writeAll(streamPieces(captured.image, { version }), options.transform);
      } catch (err) {
        // A destination that refused mid-stream said why before it closed: prefer its reason.
        const said = await wire.readLine(REASON_GRACE_MS, 'a reason').catch(() => '');
        const [w, reason] = splitLine(said);
        throw new MigrationError(
          w === 'FAIL' ? `the destination refused the stream: ${oneLine(reason)}` : (err as Error).message,
        );
      }
      const ready = await wire.readLine(
        // Never shorter than the peer wait it used to be: a raised timeoutMs still covers it.
        options.verifyTimeoutMs ?? Math.max(timeout, DEFAULT_VERIFY_TIMEOUT_MS),
        'the destination to verify the stream',
      );
      const [word, rest] = splitLine(ready);
      if (word !== 'READY') throw new MigrationError(`the destination refused the stream: ${oneLine(rest || ready)}`);
      // The commit point: once GO may have reached the destination, this domain is never unpaused.
      committed = true;
      await wire.write('GO\n');
      const running = await wire.readLine(options.confirmTimeoutMs ?? 30_000, 'the destination to run the domain');
      const [w2, r2] = splitLine(running);
      if (w2 !== 'RUNNING' || !/^\d{1,10}$/.test(r2))
        throw new MigrationError(`the destination answered ${oneLine(running)}`);
      result = { remoteDomid: Number(r2), version, bytes, downtimeMs: performance.now() - pausedAt };
    } catch (err) {
      if (committed) throw new MigrationOutcomeUnknownError(domid, describeEndpoint(endpoint), (err as Error).message);
      await captured.release();
      throw err instanceof MigrationError ? err : new MigrationError((err as Error).message);
    }
    // Outside the try above: the guest runs on the destination now, whatever destroying this copy does.
    await host.destroy(domid);
    return result;
  } finally {
    wire.close();
    socket.destroy();
  }
}
