/**
 * Output helpers shared by the commands: JSON that keeps 64-bit values exact,
 * aligned plain-text tables, and colour only when stdout is a terminal.
 */
import pc from 'picocolors';
import type { FdWriter } from './stream-out.ts';

export const color = pc.createColors(process.stdout.isTTY === true && !process.env.NO_COLOR);

/** JSON with bigints as decimal strings (so u64 counters stay exact for any consumer). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

export type Align = 'left' | 'right';

/** Render rows as a table with a header line; numeric-looking columns may be right-aligned. */
export function renderTable(header: string[], rows: string[][], align: Align[] = []): string {
  const widths = columnWidths(header, rows);
  const lines = [color.bold(tableLine(header, widths, align))];
  for (const r of rows) lines.push(tableLine(r, widths, align));
  return lines.join('\n');
}

/** Widths that fit `rows`, never narrower than `start`. */
function columnWidths(start: string[] | number[], rows: Iterable<string[]>): number[] {
  // A loop, not Math.max(...column): spreading thousands of rows into arguments overflows the stack.
  const widths = start.map((h) => (typeof h === 'number' ? h : h.length));
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  }
  return widths;
}

function tableLine(cells: string[], widths: number[], align: Align[]): string {
  return cells
    .map((c, i) => {
      const w = widths[i] ?? 0;
      return align[i] === 'right' ? c.padStart(w) : c.padEnd(w);
    })
    .join('  ')
    .trimEnd();
}

/** Rows per block of a streamed table: widths are settled once per block. */
export const TABLE_BLOCK_ROWS = 1000;

/**
 * Writes a table as renderTable renders it, but block by block as the rows come, holding at
 * most `blockRows` rows. Widths are computed per block and only ever grow: a table of up to
 * `blockRows` rows is aligned exactly as renderTable aligns it; in a longer one each block fits
 * its own rows and every earlier block, so columns never move left and stay aligned within a
 * block (a wider cell further down widens the columns from its block on).
 */
export function writeTable(
  out: FdWriter,
  header: string[],
  rows: Iterable<string[]>,
  align: Align[] = [],
  blockRows: number = TABLE_BLOCK_ROWS,
): void {
  let widths = header.map((h) => h.length);
  let block: string[][] = [];
  let headerWritten = false;
  const writeBlock = () => {
    widths = columnWidths(widths, block);
    if (!headerWritten) out.write(`${color.bold(tableLine(header, widths, align))}\n`);
    headerWritten = true;
    for (const r of block) out.write(`${tableLine(r, widths, align)}\n`);
    block = [];
  };
  for (const r of rows) {
    block.push(r);
    if (block.length >= blockRows) writeBlock();
  }
  if (block.length > 0 || !headerWritten) writeBlock();
}
