/**
 * The numbers of the call-batch ABI as TypeScript constants. They mirror schemas/call-batch
 * (test/guest-calls/codec.test.ts proves they equal the newest frozen revision).
 */

export const BATCH_MAGIC = 0x48564342;
export const MAX_CAPACITY = 256;
export const NR_ARGS = 5;
/** Status of an entry not processed yet (call statuses are 0 or negative). */
export const STATUS_PENDING = 1;
/** sizeof(header), sizeof(entry). */
export const HEADER_SIZE = 32;
export const ENTRY_SIZE = 64;

/** Call numbers of the batch calls in the core family (0x00). */
export const BATCH_CALL = { register: 0x10, flush: 0x11 } as const;

/** Header flags (masks). */
export const BATCH_FLAG = { stopOnError: 1 } as const;
export const KNOWN_FLAGS = BATCH_FLAG.stopOnError;

/** Byte offsets inside the header and inside an entry. */
export const HEADER_OFFSET = { magic: 0, capacity: 4, count: 8, next: 12, flags: 16, reserved: 20 } as const;
export const ENTRY_OFFSET = { word: 0, status: 4, result: 8, args: 16, reserved: 56 } as const;
export const HEADER_RESERVED_BYTES = 12;
export const ENTRY_RESERVED_BYTES = 8;

/** Bytes a buffer of `capacity` entries occupies in guest memory. */
export function bufferSize(capacity: number): number {
  return HEADER_SIZE + capacity * ENTRY_SIZE;
}
