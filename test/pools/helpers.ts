import { PAGE_BYTES } from '../../src/formats/callword/pool.ts';

/** A page whose bytes are derived from a seed (distinct seeds → distinct pages). */
export function pageOf(seed: number): Uint8Array {
  const page = new Uint8Array(PAGE_BYTES);
  let x = (seed * 0x9e3779b1 + 1) >>> 0 || 1;
  for (let i = 0; i < PAGE_BYTES; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    page[i] = x & 0xff;
    page[i + 1] = (x >>> 8) & 0xff;
    page[i + 2] = (x >>> 16) & 0xff;
    page[i + 3] = seed & 0xff;
  }
  return page;
}
