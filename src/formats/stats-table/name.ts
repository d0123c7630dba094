/**
 * The domain's name (since rev 5): a char field of the domain header, UTF-8, NUL-padded, at
 * most `length - 1` bytes and a NUL; all zero = not published.
 *
 * Readers take the bytes before the first NUL and accept them only as valid UTF-8 without
 * control characters: anything else decodes as "no name", so a hostile producer can neither
 * crash a consumer nor put terminal escapes on a tool's screen. The checker reports why.
 */
import { UsageError } from '../../errors.ts';

/** Where the name field is inside the domain block. */
export interface NameModel {
  offset: number;
  /** Bytes of the field, the terminating NUL included. */
  length: number;
}

const encoder = new TextEncoder();
const strict = new TextDecoder('utf-8', { fatal: true });

/** C0 controls, DEL and C1 controls: never part of a name. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The field's bytes for `name`; UsageError when it is too long or holds a NUL or control character. */
export function encodeDomainName(model: NameModel, name: unknown): Uint8Array {
  if (typeof name !== 'string') throw new UsageError(`name must be a string, not ${String(name)}`);
  if (CONTROL.test(name)) throw new UsageError(`name ${JSON.stringify(name)} holds a NUL or control character`);
  const utf8 = encoder.encode(name);
  const max = model.length - 1;
  if (utf8.length > max) {
    throw new UsageError(`name ${JSON.stringify(name)} is ${utf8.length} bytes of UTF-8; at most ${max} fit`);
  }
  const out = new Uint8Array(model.length);
  out.set(utf8);
  return out;
}

export type NameProblem = 'unterminated' | 'bytes-after-nul' | 'invalid-utf8' | 'control-character';

export interface DecodedName {
  /**
   * The name, when published and valid text. The reader stops at the first NUL (or the end of the
   * field), so a missing terminator or bytes after it do not hide the name; invalid text does.
   */
  name?: string;
  /** Why the bytes are not a valid name (checker rules `name-<problem>`). */
  problems: NameProblem[];
}

/** Decodes the field at `offset` of `bytes`, never reading past the field or the buffer. */
export function decodeDomainName(bytes: Uint8Array, offset: number, length: number): DecodedName {
  const field = bytes.subarray(offset, Math.min(bytes.length, offset + length));
  const nul = field.indexOf(0);
  const text = nul < 0 ? field : field.subarray(0, nul);
  const problems: NameProblem[] = [];
  if (nul < 0 && field.length > 0) problems.push('unterminated');
  else if (nul >= 0 && field.subarray(nul).some((b) => b !== 0)) problems.push('bytes-after-nul');
  let name: string | undefined;
  try {
    name = strict.decode(text);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // what a fatal TextDecoder throws for bad UTF-8
    problems.push('invalid-utf8');
  }
  if (name !== undefined && CONTROL.test(name)) {
    problems.push('control-character');
    name = undefined;
  }
  return name ? { name, problems } : { problems };
}
