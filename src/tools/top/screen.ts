/**
 * One screen of `hvkit top` as lines of text, from a frame and the view state. Layout is decided on
 * plain text and colour is applied last, so widths never count escape codes.
 */
import { columnById } from './columns.ts';
import { eventsLine } from './events.ts';
import { hex64, pad, truncate } from './format.ts';
import type { Frame, VmRow } from './frame.ts';
import { fitLayout, headerLine, longestName, rowLine } from './layout.ts';
import { compileFilter, filterRows, sortRows } from './order.ts';
import { formatPercentile } from './percentiles.ts';
import { type DisplayRow, findVm, vcpuDisplayRow, vmDisplayRow } from './rows.ts';
import { helpLines, type ViewState } from './state.ts';

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  inverse(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const same = (s: string) => s;
export const PLAIN: Paint = { bold: same, dim: same, inverse: same, red: same, yellow: same, cyan: same };

export interface ScreenSize {
  columns: number;
  /** Lines available; Infinity for plain output that may scroll. */
  rows: number;
}

export interface ScreenOptions {
  paint?: Paint;
  /** Interactive: highlight the selection, show the key line. */
  interactive?: boolean;
  /** One more line under the table, e.g. where the demo's web view is. */
  note?: string;
}

/** VM-level rows after filter and sort, in display order. */
export function visibleVmRows(frame: Frame, state: ViewState): DisplayRow[] {
  const rows = frame.vms.map(vmDisplayRow);
  return sortRows(filterRows(rows, compileFilter(state.filter)), state.sort);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function titleLine(frame: Frame, state: ViewState, shown: number): string {
  const vcpus = frame.vms.reduce((n, v) => n + v.vcpus.length, 0);
  const sort = `${columnById(state.sort.column).title}${state.sort.descending ? '↓' : '↑'}`;
  const parts = [
    'hvkit top',
    `${plural(frame.vms.length, 'VM')}, ${plural(vcpus, 'vCPU')}`,
    shown === frame.vms.length ? '' : `${shown} shown`,
    `every ${state.intervalMs} ms`,
    `sort ${sort}`,
    state.filter ? `filter /${state.filter}/` : '',
    state.paused ? 'PAUSED' : '',
  ];
  return parts.filter((p) => p !== '').join(' · ');
}

function vmHeading(row: VmRow): string {
  const vm = row.vm;
  const ids = [
    `pid ${vm.pid}`,
    vm.domid === undefined ? '' : `domid ${vm.domid}`,
    vm.uniqueId === undefined ? '' : `unique id ${hex64(vm.uniqueId)}`,
    `${vm.owner === 'hvkit' ? 'hvkit' : 'other VMM'}`,
    `stats: ${vm.sources.length === 0 ? 'none' : vm.sources.join(', ')}`,
  ];
  return `VM ${vm.name} (${ids.filter((s) => s).join(', ')})`;
}

/** Percentiles of each histogram of a VM, over the last interval and since the start. */
export function histogramLines(row: VmRow, width: number): string[] {
  if (row.histograms.length === 0) return [];
  const nameWidth = Math.min(28, Math.max(9, ...row.histograms.map((h) => [...h.name].length)));
  const cells = (c: string[]) =>
    truncate(
      c
        .map((t, i) => pad(t, i === 0 ? nameWidth : 11, i === 0 ? 'left' : 'right'))
        .join(' ')
        .trimEnd(),
      width,
    );
  const lines = [cells(['HISTOGRAM', 'INT p50', 'INT p90', 'INT p99', 'ALL p50', 'ALL p90', 'ALL p99'])];
  for (const h of row.histograms) {
    const { interval, overall, unit } = h.view;
    lines.push(
      cells([
        h.name,
        formatPercentile(interval?.p50, unit),
        formatPercentile(interval?.p90, unit),
        formatPercentile(interval?.p99, unit),
        formatPercentile(overall.p50, unit),
        formatPercentile(overall.p90, unit),
        formatPercentile(overall.p99, unit),
      ]),
    );
  }
  return lines;
}

const KEYS_LINE = 'q quit  s/S sort  / filter  ↑↓ select  v vCPUs  p pause  +/- interval  h help';

export function renderScreen(frame: Frame, state: ViewState, size: ScreenSize, options: ScreenOptions = {}): string[] {
  const paint = options.paint ?? PLAIN;
  const width = Math.max(20, size.columns);
  const vmRows = visibleVmRows(frame, state);
  const top: string[] = [paint.bold(truncate(titleLine(frame, state, vmRows.length), width))];
  top.push(paint.cyan(eventsLine(frame.recentEvents, width)));
  if (state.editing !== undefined) top.push(paint.yellow(truncate(`filter: ${state.editing}_`, width)));
  if (state.filterError) top.push(paint.red(truncate(state.filterError, width)));
  if (state.help) return [...top, '', ...helpLines().map((l) => truncate(l, width))];

  let rows: DisplayRow[] = vmRows;
  const bottom: string[] = [];
  const selected = state.level === 'vcpu' ? findVm(frame, state.selected) : undefined;
  if (state.level === 'vcpu') {
    if (!selected) {
      top.push(paint.yellow(truncate('the selected VM is gone (v or Esc: back to all VMs)', width)));
      rows = [];
    } else {
      top.push(paint.bold(truncate(vmHeading(selected), width)));
      rows = sortRows(
        selected.vcpus.map((v) => vcpuDisplayRow(selected, v)),
        state.sort,
      );
      const hist = histogramLines(selected, width);
      if (hist.length > 0) bottom.push('', paint.bold(hist[0]!), ...hist.slice(1));
    }
  }
  if (state.level === 'vm') {
    for (const r of rows) {
      if (r.vm.note) bottom.push(paint.dim(truncate(`note: ${r.vm.name}: ${r.vm.note}`, width)));
    }
  }
  if (options.note) bottom.push(paint.cyan(truncate(options.note, width)));
  if (options.interactive) bottom.push(paint.dim(truncate(KEYS_LINE, width)));

  const layout = fitLayout(width, state.level, longestName(rows));
  top.push(paint.bold(headerLine(layout, width, state.sort)));
  // Room for table rows; the bottom block gives way before the rows do.
  const room = size.rows - top.length - bottom.length;
  const tableRoom = Math.max(1, Number.isFinite(room) ? room : rows.length);
  const selectedIndex = state.level === 'vm' ? rows.findIndex((r) => r.key === state.selected) : -1;
  let start = 0;
  let visible = rows.length;
  if (rows.length > tableRoom) {
    visible = tableRoom - 1; // the last line says how many are hidden
    if (selectedIndex >= visible) start = selectedIndex - visible + 1;
  }
  const body = rows.slice(start, start + visible).map((r) => {
    const line = rowLine(r, layout, width);
    return options.interactive && r.key === state.selected && state.level === 'vm'
      ? paint.inverse(pad(line, width, 'left'))
      : line;
  });
  if (rows.length === 0) body.push(paint.dim(state.level === 'vm' ? '(no VMs)' : '(no vCPUs)'));
  if (visible < rows.length) body.push(paint.dim(`… ${rows.length - visible} more`));
  const lines = [...top, ...body, ...bottom];
  return Number.isFinite(size.rows) ? lines.slice(0, Math.max(1, size.rows)) : lines;
}
