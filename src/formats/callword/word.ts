/**
 * Call words: family (bits 31..24) | call number (23..16) | reserved (15..8) | annotation (7..0).
 * Decoding never fails: it splits the bits; the dispatcher decides what a non-zero reserved field
 * or an unknown family means.
 */
import { FormatError } from '../../errors.ts';
import { ANNOTATION_MASK, CALL_SHIFT, FAMILY_SHIFT, RESERVED_MASK } from './constants.ts';

export interface CallWord {
  family: number;
  call: number;
  /** Must be zero for a valid call. */
  reserved: number;
  annotation: number;
}

function checkByte(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new FormatError('call-word', field, 'byte-range', 'must be an integer in 0..255', String(value));
  }
}

/** The u32 of a call word; every part must be in 0..255. */
export function encodeCallWord(parts: {
  family: number;
  call: number;
  reserved?: number;
  annotation?: number;
}): number {
  const reserved = parts.reserved ?? 0;
  const annotation = parts.annotation ?? 0;
  checkByte('family', parts.family);
  checkByte('call', parts.call);
  checkByte('reserved', reserved);
  checkByte('annotation', annotation);
  return ((parts.family << FAMILY_SHIFT) | (parts.call << CALL_SHIFT) | (reserved << 8) | annotation) >>> 0;
}

/** Shorthand: the word of (family, call) with optional annotation bits and no reserved bits. */
export function callWord(family: number, call: number, annotation = 0): number {
  return encodeCallWord({ family, call, annotation });
}

/** Splits a u32 into its parts; rejects only what is not a u32 at all. */
export function decodeCallWord(word: number): CallWord {
  if (!Number.isInteger(word) || word < 0 || word > 0xffff_ffff) {
    throw new FormatError('call-word', 'word', 'u32-range', 'a call word is an integer in 0..2^32-1', String(word));
  }
  return {
    family: (word >>> FAMILY_SHIFT) & 0xff,
    call: (word >>> CALL_SHIFT) & 0xff,
    reserved: (word & RESERVED_MASK) >>> 8,
    annotation: word & ANNOTATION_MASK,
  };
}

/** The word without its annotation bits: what names the call. */
export function callKey(word: number): number {
  return (word & ~ANNOTATION_MASK & ~RESERVED_MASK) >>> 0;
}

/** "0x01040000" — how tools print a word. */
export function formatCallWord(word: number): string {
  return `0x${(word >>> 0).toString(16).padStart(8, '0')}`;
}
