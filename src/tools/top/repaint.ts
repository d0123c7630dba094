/**
 * The bytes that put one screen of the interactive view on the terminal.
 *
 * Every frame defines the whole screen by itself: each row is addressed absolutely, erased and
 * written, and rows past the frame are erased. Nothing depends on what the previous frame was,
 * where the cursor was left or how many lines were written before — so no sequence of frames of
 * different heights (drilling into a VM and back, a VM destroyed under the selection, help, a
 * resize, or a stray line on stderr) can leave a stale row or push a line off the screen.
 * Autowrap is off while the view runs: a line wider than the terminal is cut at the right edge,
 * it never wraps onto the next row and never scrolls the screen.
 *
 * (A diffing renderer that moves the cursor relative to where it believes it is fails exactly
 * here: log-update 7.2 miscounts by one line whenever a changed block ends in an empty line, and
 * every later frame is drawn one row too high.)
 */

const CSI = '\u001b[';
const SYNC_BEGIN = `${CSI}?2026h`;
const SYNC_END = `${CSI}?2026l`;
const RESET = `${CSI}0m`;
const ERASE_LINE = `${CSI}2K`;

/** Alternate screen, cursor hidden, autowrap off, screen cleared. */
export const VIEW_BEGIN = `${CSI}?1049h${CSI}?25l${CSI}?7l${RESET}${CSI}2J${CSI}H`;
/** Autowrap and cursor back, normal screen. */
export const VIEW_END = `${RESET}${CSI}?7h${CSI}?25h${CSI}?1049l`;

/**
 * The screen showing `lines` (at most `rows` of them; more are left out), every other row blank.
 * One string, to be written with one write: terminals that know synchronized output show it at once.
 */
export function repaint(lines: readonly string[], rows: number): string {
  let out = SYNC_BEGIN;
  for (let row = 0; row < rows; row++) {
    // Reset before erasing: an erased row takes the current background colour.
    out += `${CSI}${row + 1};1H${RESET}${ERASE_LINE}${lines[row] ?? ''}`;
  }
  return `${out}${RESET}${CSI}${rows};1H${SYNC_END}`;
}
