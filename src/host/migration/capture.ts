/**
 * Capturing a domain into an image for the stream writer: pause it (through the host, so the
 * lifecycle feed shows it), read each vCPU's published state, guest memory, the pools' snapshot
 * and a copy of its stats table — then give the caller a way to let it run on.
 */
import { UsageError } from '../../errors.ts';
import type { ImageToWrite, StreamOptions } from '../../formats/stream/image.ts';
import type { Host } from '../host.ts';
import { type PoolStreamHooks, runtimeOf } from './hooks.ts';
import { releaseAfterFailure } from './leftover.ts';

export interface CaptureOptions {
  pools?: PoolStreamHooks;
  /** Mark the image as written by a migration. */
  migration?: boolean;
}

export interface Captured {
  image: ImageToWrite;
  /** The domain was paused by its owner before the capture (restore leaves such a domain paused). */
  wasPaused: boolean;
  /** Unpauses the domain if the capture paused it. */
  release(): Promise<void>;
}

/** Pauses domain `domid` (if running) and captures it. On failure the domain runs on as before. */
export async function captureDomain(host: Host, domid: number, options: CaptureOptions = {}): Promise<Captured> {
  const info = host.domain(domid);
  if (!info) throw new UsageError(`no domain ${domid}`);
  if (info.state !== 'running' && info.state !== 'paused') {
    throw new UsageError(`cannot save domain ${domid} (${info.name}): it is ${info.state}`);
  }
  const runtime = runtimeOf(host, domid);
  const wasPaused = info.state === 'paused';
  if (!wasPaused) await host.pause(domid);
  const release = async () => {
    if (!wasPaused && host.domain(domid)?.state === 'paused') await host.unpause(domid);
  };
  try {
    const vcpus = await runtime.captureState();
    const memory = runtime.guestMemory();
    const pools = options.pools?.snapshot(domid);
    const stats = host.statsCopy(domid);
    const streamOptions: StreamOptions = { migration: options.migration ?? false, paused: wasPaused };
    const image: ImageToWrite = {
      options: streamOptions,
      domain: {
        name: info.name,
        vcpus: info.vcpus,
        memoryMiB: info.memoryMiB,
        workload: info.workload,
        program: runtime.config.program ?? info.workload,
        rounds: runtime.config.rounds ?? 0,
        cpu: info.backend,
      },
      vcpus,
      memory: {
        size: memory.size,
        read(offset, length) {
          const out = new Uint8Array(length);
          memory.read(offset, out);
          return out;
        },
      },
      ...(pools && options.pools ? { pools: { version: options.pools.format, data: pools } } : {}),
      stats: { version: stats.revision, data: stats.data },
    };
    return { image, wasPaused, release };
  } catch (err) {
    // The caller must hear that the domain stayed paused, not just that the capture failed.
    return releaseAfterFailure(domid, release, 'capture', err);
  }
}
