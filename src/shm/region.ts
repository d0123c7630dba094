/**
 * A region: a fixed-length span of memory shared with another thread or process, seen through
 * typed-array views. The views are only valid until `close()`; every holder of a view registers
 * a drop callback with `onClose` so that no view of an unmapped mapping survives the close.
 *
 * Tables are laid out in host byte order, like the C structs they mirror; hvkit supports
 * little-endian hosts only, and the views below assume it.
 */
import { endianness } from 'node:os';
import { ClosedError, UsageError } from '../errors.ts';

export interface Region {
  /** For messages: the /dev/shm name, or a description of the memory. */
  readonly name: string;
  /** Bytes of the region. */
  readonly length: number;
  /** False for read-only mappings (and for regions handed to readers). */
  readonly writable: boolean;
  readonly closed: boolean;
  /** The whole region as bytes. Throws ClosedError after close. */
  readonly bytes: Uint8Array;
  /** The region as 32-bit words (floor(length / 4) of them), for Atomics on sequence words. */
  readonly words: Uint32Array;
  /** Registers a callback that drops the caller's cached views; called first thing in close(). */
  onClose(drop: () => void): void;
  /** Drops every view, then releases the memory (unmaps, and unlinks when owned). Idempotent. */
  close(): void;
}

if (endianness() !== 'LE') {
  throw new UsageError('hvkit shared-memory tables are laid out in little-endian host order');
}

/** The common bookkeeping of every region kind: views, drop callbacks and the closed state. */
export class ViewRegion implements Region {
  #bytes: Uint8Array | undefined;
  #words: Uint32Array | undefined;
  #drops: (() => void)[] = [];
  readonly length: number;

  constructor(
    readonly name: string,
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
    readonly writable: boolean,
    private readonly release: () => void = () => {},
  ) {
    if (byteOffset % 4 !== 0) throw new UsageError(`region ${name}: views must start on a 4-byte boundary`);
    this.length = length;
    this.#bytes = new Uint8Array(buffer, byteOffset, length);
    this.#words = new Uint32Array(buffer, byteOffset, Math.floor(length / 4));
  }

  get closed(): boolean {
    return this.#bytes === undefined;
  }

  get bytes(): Uint8Array {
    if (!this.#bytes) throw new ClosedError(`region ${this.name}`);
    return this.#bytes;
  }

  get words(): Uint32Array {
    if (!this.#words) throw new ClosedError(`region ${this.name}`);
    return this.#words;
  }

  onClose(drop: () => void): void {
    if (this.closed) {
      drop();
      return;
    }
    this.#drops.push(drop);
  }

  close(): void {
    if (this.closed) return;
    const drops = this.#drops;
    this.#drops = [];
    for (const drop of drops) drop();
    this.#bytes = undefined;
    this.#words = undefined;
    this.release();
  }
}

/** A new zero-filled region over a SharedArrayBuffer, to hand to worker threads. */
export function createSharedRegion(
  length: number,
  name = 'shared-array-buffer',
): Region & { buffer: SharedArrayBuffer } {
  if (!Number.isSafeInteger(length) || length <= 0) throw new UsageError(`region length must be positive: ${length}`);
  const buffer = new SharedArrayBuffer(length);
  return Object.assign(new ViewRegion(name, buffer, 0, length, true), { buffer });
}

/** A region over a SharedArrayBuffer received from another thread. */
export function sharedRegionFrom(
  buffer: SharedArrayBuffer,
  options: { writable?: boolean; name?: string } = {},
): Region {
  return new ViewRegion(options.name ?? 'shared-array-buffer', buffer, 0, buffer.byteLength, options.writable ?? false);
}

/**
 * A read-only region over bytes already in memory (a captured file, a crafted test region).
 * The bytes are used in place when 4-byte aligned, copied otherwise.
 */
export function bytesRegion(bytes: Uint8Array, name = 'bytes'): Region {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new ViewRegion(name, aligned.buffer, aligned.byteOffset, aligned.length, false);
}
