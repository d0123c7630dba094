/**
 * Where paused vCPU workers leave their state for the host thread (save/restore): one slot per
 * vCPU in a SharedArrayBuffer. A worker leaving the guest for a pause settles its CPU, captures
 * it with its device model and writes the slot BEFORE it reports PAUSED (a sequentially consistent
 * store), so a host that saw PAUSED reads a complete, current state without any message passing —
 * the worker sits in Atomics.wait and runs no event loop while paused.
 *
 * Slot layout: i32 sequence (bumped after each write), i32 byte length, then the state as JSON
 * (bigints as decimal strings, sregs as a byte array) — or `{ "error": … }` when the CPU cannot
 * be captured (a simulated program without a resumable form).
 */
import type { VcpuState } from '../formats/stream/image.ts';

export const SNAPSHOT_SLOT_BYTES = 16 * 1024;
const HEADER = 8;

export function createSnapshotBuffer(vcpus: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * SNAPSHOT_SLOT_BYTES);
}

export type SlotContent = { state: VcpuState } | { error: string };

function toJson(content: SlotContent): string {
  return JSON.stringify(content, (_k, v) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? { bytes: [...v] } : v,
  );
}

function fromJson(text: string): SlotContent {
  return JSON.parse(text, (_k, v) => {
    if (typeof v === 'string' && /^\d+n$/.test(v)) return BigInt(v.slice(0, -1));
    if (v && typeof v === 'object' && Array.isArray(v.bytes)) return Uint8Array.from(v.bytes as number[]);
    return v;
  }) as SlotContent;
}

export class SnapshotSlot {
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer, vcpu: number) {
    if ((vcpu + 1) * SNAPSHOT_SLOT_BYTES > buffer.byteLength) throw new RangeError(`no snapshot slot for vCPU ${vcpu}`);
    this.#words = new Int32Array(buffer, vcpu * SNAPSHOT_SLOT_BYTES, 2);
    this.#bytes = new Uint8Array(buffer, vcpu * SNAPSHOT_SLOT_BYTES + HEADER, SNAPSHOT_SLOT_BYTES - HEADER);
  }

  /** Times the worker wrote the slot (0 = never). */
  get sequence(): number {
    return Atomics.load(this.#words, 0);
  }

  /** Worker side. */
  write(content: SlotContent): void {
    let encoded = new TextEncoder().encode(toJson(content));
    if (encoded.length > this.#bytes.length) {
      encoded = new TextEncoder().encode(toJson({ error: `vCPU state of ${encoded.length} bytes overflows its slot` }));
    }
    this.#bytes.set(encoded);
    Atomics.store(this.#words, 1, encoded.length);
    Atomics.add(this.#words, 0, 1);
  }

  /** Host side: the last content written, or undefined before the first write. */
  read(): SlotContent | undefined {
    if (this.sequence === 0) return undefined;
    const length = Atomics.load(this.#words, 1);
    return fromJson(new TextDecoder().decode(this.#bytes.slice(0, length)));
  }
}
