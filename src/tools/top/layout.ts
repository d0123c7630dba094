/**
 * Fitting the table to the terminal: low-priority columns go first when the width is short, the
 * name column takes what is left (between NAME_MIN and NAME_MAX), and every line is cut to the width.
 */
import { COLUMNS, type Column, NAME_MAX, NAME_MIN } from './columns.ts';
import { pad, textWidth, truncate } from './format.ts';
import type { DisplayRow, Level } from './rows.ts';

export const COLUMN_GAP = 1;

export interface Layout {
  columns: Column[];
  /** Width of each column, name included. */
  widths: number[];
}

function totalWidth(columns: readonly Column[], nameWidth: number): number {
  const fixed = columns.reduce((sum, c) => sum + (c.id === 'name' ? nameWidth : c.width), 0);
  return fixed + COLUMN_GAP * Math.max(0, columns.length - 1);
}

/**
 * The columns of `level` that fit in `width`, and their widths. `longestName` lets the name column
 * grow to fit names up to NAME_MAX when there is room. The name and exits columns always stay.
 */
export function fitLayout(width: number, level: Level, longestName: number): Layout {
  let columns = COLUMNS.filter((c) => c.levels.includes(level));
  while (totalWidth(columns, NAME_MIN) > width) {
    const droppable = columns.filter((c) => c.id !== 'name' && c.id !== 'exits');
    if (droppable.length === 0) break;
    const worst = droppable.reduce((a, b) => (b.priority > a.priority ? b : a));
    columns = columns.filter((c) => c !== worst);
  }
  const spare = width - totalWidth(columns, NAME_MIN);
  const wanted = Math.min(NAME_MAX, Math.max(NAME_MIN, longestName));
  const nameWidth = NAME_MIN + Math.max(0, Math.min(spare, wanted - NAME_MIN));
  return { columns, widths: columns.map((c) => (c.id === 'name' ? nameWidth : c.width)) };
}

function joinCells(cells: string[], layout: Layout, width: number): string {
  const line = cells
    .map((text, i) => pad(text, layout.widths[i]!, layout.columns[i]!.align))
    .join(' '.repeat(COLUMN_GAP));
  return truncate(line.trimEnd(), width);
}

export function headerLine(layout: Layout, width: number, sorted?: { column: string; descending: boolean }): string {
  const titles = layout.columns.map((c) =>
    sorted && c.id === sorted.column ? `${c.title}${sorted.descending ? '↓' : '↑'}` : c.title,
  );
  return joinCells(titles, layout, width);
}

export function rowLine(row: DisplayRow, layout: Layout, width: number): string {
  return joinCells(
    layout.columns.map((c, i) => c.cell(row, layout.widths[i]!)),
    layout,
    width,
  );
}

export function longestName(rows: readonly DisplayRow[]): number {
  return Math.max(0, ...rows.map((r) => textWidth(r.name)));
}
