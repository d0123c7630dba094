/**
 * The migration conversation (stop-and-copy), over one unix or TCP stream socket:
 *
 *   source → `MIGRATE-IN`
 *   dest   → `HVKIT-MIGRATE 1 versions=<v>,<v>`   stream versions its reader accepts
 *   source   (pauses the domain, captures it)
 *   source → the stream (newest version both read), ending with its END record
 *   dest     verifies the whole stream, creates the domain PAUSED
 *   dest   → `READY <domid>`          or `FAIL <reason>` at any point, then closes
 *   source → `GO`                     the commit point
 *   dest     unpauses the domain (unless it was saved paused)
 *   dest   → `RUNNING <domid>`
 *   source   destroys its domain
 *
 * A destination that cannot take a migration (it is receiving another) answers `FAIL <reason>`
 * instead of its hello.
 *
 * Until the source sends GO, any failure, close or timeout on either side leaves the source
 * domain running (it is unpaused) and the destination destroys what it created. Sending GO
 * commits the source: the destination may be running the guest from then on, so a source that
 * gets no RUNNING (timeout, close, FAIL) never unpauses — its domain stays paused and the
 * migration ends "outcome unknown" (MigrationOutcomeUnknownError), for the operator to look at
 * the destination and then destroy or unpause the source. A destination that got GO keeps its
 * domain even when it cannot confirm. The guest thus never runs on both hosts.
 */
import { UsageError } from '../../errors.ts';
import { peerText } from '../../peer-text.ts';

export const HELLO = 'HVKIT-MIGRATE 1';
export const MIGRATE_IN = 'MIGRATE-IN';

export function helloLine(versions: number[]): string {
  return `${HELLO} versions=${versions.join(',')}\n`;
}

/** The versions a destination announced, or undefined for a line that is not a hello. */
export function parseHello(line: string): number[] | undefined {
  const m = /^HVKIT-MIGRATE 1 versions=(\d+(?:,\d+)*)$/.exec(line);
  return m ? m[1]!.split(',').map(Number) : undefined;
}

/** Splits `WORD rest`. */
export function splitLine(line: string): [string, string] {
  const sp = line.indexOf(' ');
  return sp < 0 ? [line, ''] : [line.slice(0, sp), line.slice(sp + 1)];
}

/**
 * Peer-supplied text (a reason, a line that is not what was expected) as one printable line:
 * control characters, terminal escapes and bidi overrides escaped, length bounded (peer-text.ts).
 * Everything a peer says goes through here before it is printed, logged or put in an error.
 */
export function oneLine(text: string): string {
  return peerText(text, 1000);
}

/** The first C0 control character (newline included) or DEL in `text`, as its code; else -1. */
function firstControl(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return c;
  }
  return -1;
}

/**
 * Refuses a path (or socket address) that a one-line request cannot carry: a newline would end
 * the request early — `save 1 '/tmp/a<LF>b'` would write /tmp/a — and other control characters
 * are no file name anyone means. Checked by the CLI before it sends, by the host on every request,
 * and by endpoint parsing.
 */
export function checkRequestPath(path: string, what: string): void {
  const found = firstControl(path);
  if (found >= 0) {
    const code = found.toString(16).padStart(2, '0');
    throw new UsageError(
      `${what} ${JSON.stringify(peerText(path, 200))} holds a control character (0x${code}): a request cannot carry it`,
    );
  }
}
