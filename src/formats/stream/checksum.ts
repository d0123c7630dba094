/**
 * Record checksums: CRC-32 (IEEE, as zlib and gzip compute it).
 *
 * Why CRC-32 and not a cryptographic hash: the checksum guards against truncation, torn writes
 * and bit rot, not against an attacker (who could recompute any unkeyed hash), and the stream's
 * reader validates every structural rule anyway. CRC-32 detects every burst error up to 32 bits
 * and every odd number of flipped bits, and node:zlib computes it natively (hardware-assisted),
 * several GB/s — far cheaper than SHA-256 on a 256 MiB image. Node releases without zlib.crc32
 * (before 20.15) fall back to a table-driven implementation giving the same values.
 */
import * as zlib from 'node:zlib';

type Crc = (data: Uint8Array, value?: number) => number;

const native = (zlib as unknown as { crc32?: Crc }).crc32;

let table: Uint32Array | undefined;
function tableCrc(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it; 0 to start). */
export const crc32: Crc = native ? (data, value = 0) => nativeCrc(native, data, value) : tableCrc;

/**
 * Node's zlib.crc32 returns 0, not `value`, for some empty views (an empty subarray of an empty
 * array): the CRC of no bytes is the running value, whatever the view.
 */
function nativeCrc(crc: Crc, data: Uint8Array, value: number): number {
  return data.length === 0 ? value >>> 0 : crc(data, value) >>> 0;
}

/** CRC-32 of several pieces as if concatenated. */
export function crc32Of(pieces: readonly Uint8Array[]): number {
  let c = 0;
  for (const p of pieces) c = crc32(p, c);
  return c;
}
