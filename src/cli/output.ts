/**
 * Output helpers shared by the commands: JSON that keeps 64-bit values exact,
 * aligned plain-text tables, and colour only when stdout is a terminal.
 */
import pc from 'picocolors';

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
  // A loop, not Math.max(...column): spreading thousands of rows into arguments overflows the stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  }
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return align[i] === 'right' ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const lines = [color.bold(line(header))];
  for (const r of rows) lines.push(line(r));
  return lines.join('\n');
}
