/**
 * Sorting and filtering of table rows. Unknown values always sort last whatever the direction;
 * ties fall back to the name and then the key, so the order is stable from frame to frame.
 */
import { type ColumnId, columnById, SORT_COLUMNS } from './columns.ts';
import type { DisplayRow } from './rows.ts';

export interface SortSpec {
  column: ColumnId;
  descending: boolean;
}

export const DEFAULT_SORT: SortSpec = { column: 'exits', descending: true };

/** Text columns read naturally ascending, numbers biggest first. */
export function defaultDirection(column: ColumnId): boolean {
  return column !== 'name';
}

export function parseSortColumn(text: string): SortSpec | undefined {
  const wanted = text.toLowerCase().replace(/\/s$/, '');
  const column = SORT_COLUMNS.find((c) => c === wanted || columnById(c).title.toLowerCase() === text.toLowerCase());
  return column ? { column, descending: defaultDirection(column) } : undefined;
}

export function nextSortColumn(spec: SortSpec): SortSpec {
  const i = SORT_COLUMNS.indexOf(spec.column);
  const column = SORT_COLUMNS[(i + 1) % SORT_COLUMNS.length]!;
  return { column, descending: defaultDirection(column) };
}

function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sortRows(rows: readonly DisplayRow[], spec: SortSpec): DisplayRow[] {
  const sortValue = columnById(spec.column).sortValue ?? (() => undefined);
  const tieBreak = (a: DisplayRow, b: DisplayRow) =>
    compareValues(a.name, b.name) || compareValues(a.vcpu ?? -1, b.vcpu ?? -1) || compareValues(a.key, b.key);
  return [...rows].sort((a, b) => {
    const x = sortValue(a);
    const y = sortValue(b);
    if (x === undefined || y === undefined) {
      if (x !== y) return x === undefined ? 1 : -1;
      return tieBreak(a, b);
    }
    const c = compareValues(x, y);
    return (spec.descending ? -c : c) || tieBreak(a, b);
  });
}

export type CompiledFilter = { ok: true; test(name: string): boolean } | { ok: false; error: string };

/** A case-insensitive regex over the VM name; an empty pattern keeps everything. */
export function compileFilter(pattern: string): CompiledFilter {
  if (pattern === '') return { ok: true, test: () => true };
  try {
    const re = new RegExp(pattern, 'i');
    return { ok: true, test: (name) => re.test(name) };
  } catch (error) {
    return { ok: false, error: `invalid filter /${pattern}/: ${(error as Error).message}` };
  }
}

/** Rows whose VM name matches; an invalid filter keeps every row (the error is shown instead). */
export function filterRows(rows: readonly DisplayRow[], filter: CompiledFilter): DisplayRow[] {
  return filter.ok ? rows.filter((r) => filter.test(r.vm.name)) : [...rows];
}
