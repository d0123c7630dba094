/**
 * Text that came from a peer (a migration source or destination, a stream-socket client, a host
 * answering `hvkit ctl`) made safe to print on an operator's terminal or into a log: one line,
 * no control characters, bounded length.
 *
 * Printed raw, such text could carry terminal escapes (ESC sequences that move the cursor, retitle
 * the window or rewrite earlier lines), C1 controls that some terminals honour, DEL, or Unicode
 * bidi overrides that make the line read differently than it is. Each such character is shown as
 * an escape (`\x1b`, `\u202e`) instead, so nothing is hidden and nothing is interpreted.
 */

/** Default longest text kept, in characters (before the ellipsis). */
export const PEER_TEXT_MAX = 300;

/**
 * C0 controls (incl. CR, LF, TAB, ESC), DEL, C1 controls, the bidi embeddings, overrides and
 * isolates, the line and paragraph separators, and lone surrogates.
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escaped(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` as one printable line of at most `max` characters plus an ellipsis when cut. */
export function peerText(text: unknown, max = PEER_TEXT_MAX): string {
  const raw = typeof text === 'string' ? text : String(text);
  // Cut before escaping (bounded work for a huge input), then again after (escapes lengthen it).
  let out = (raw.length > max ? raw.slice(0, max) : raw).replace(UNSAFE, escaped);
  let cut = raw.length > max;
  if (out.length > max) {
    out = out.slice(0, max);
    cut = true;
  }
  if (!cut) return out;
  // The cut may split a surrogate pair or an escape: drop the dangling half.
  return `${out.replace(/[\ud800-\udbff]$/, '').replace(/\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$/, '')}…`;
}
