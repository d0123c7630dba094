/**
 * State of the interactive view and what each key does to it. Pure: `applyKey` returns the new
 * state and what the loop must do (quit, resample at a new interval); the loop owns the terminal.
 */
import { COLUMNS } from './columns.ts';
import { compileFilter, DEFAULT_SORT, nextSortColumn, type SortSpec } from './order.ts';
import type { Level } from './rows.ts';

export interface ViewState {
  level: Level;
  sort: SortSpec;
  /** Applied filter pattern ('' = none) and its error when it is not a valid regex. */
  filter: string;
  filterError?: string;
  /** The pattern being typed after `/`, undefined when not editing. */
  editing?: string;
  /** Selected VM (its key); moves with ↑/↓ at VM level, drilled into at vCPU level. */
  selected?: string;
  paused: boolean;
  intervalMs: number;
  help: boolean;
}

/**
 * Sampling intervals top accepts, in ms: at least 100 (sampling every stats fd of every VM takes
 * time; faster is noise), at most an hour (far below setTimeout's 2^31-1 ms limit).
 */
export const INTERVAL_LIMITS_MS = { min: 100, max: 3_600_000, unit: 'ms' } as const;

/** What `+` and `-` step through; every step lies within INTERVAL_LIMITS_MS. */
export const INTERVAL_STEPS = [100, 200, 250, 500, 1000, 2000, 5000, 10000];

export function initialState(options: { intervalMs: number; sort?: SortSpec; filter?: string }): ViewState {
  const state: ViewState = {
    level: 'vm',
    sort: options.sort ?? DEFAULT_SORT,
    filter: '',
    paused: false,
    intervalMs: options.intervalMs,
    help: false,
  };
  return withFilter(state, options.filter ?? '');
}

function withFilter(state: ViewState, pattern: string): ViewState {
  const compiled = compileFilter(pattern);
  return { ...state, filter: pattern, filterError: compiled.ok ? undefined : compiled.error, editing: undefined };
}

/** The next step up or down from `ms`; `ms` itself when there is none (it stays where it was). */
export function stepInterval(ms: number, direction: 1 | -1): number {
  const next =
    direction > 0
      ? (INTERVAL_STEPS.find((s) => s > ms) ?? ms)
      : ([...INTERVAL_STEPS].reverse().find((s) => s < ms) ?? ms);
  return Math.min(INTERVAL_LIMITS_MS.max, Math.max(INTERVAL_LIMITS_MS.min, next));
}

/** Splits raw terminal input into keys: escape sequences stay whole, a lone ESC is the Esc key. */
export function splitKeys(data: string): string[] {
  const keys: string[] = [];
  let i = 0;
  while (i < data.length) {
    if (data[i] === '\u001b' && (data[i + 1] === '[' || data[i + 1] === 'O')) {
      let j = i + 2;
      while (j < data.length && !/[A-Za-z~]/.test(data[j]!)) j++;
      keys.push(data.slice(i, j + 1));
      i = j + 1;
    } else {
      const ch = String.fromCodePoint(data.codePointAt(i)!);
      keys.push(ch);
      i += ch.length;
    }
  }
  return keys;
}

export const KEY = {
  ctrlC: '\u0003',
  enter: '\r',
  esc: '\u001b',
  up: '\u001b[A',
  down: '\u001b[B',
  upApp: '\u001bOA',
  downApp: '\u001bOB',
  backspace: '\u007f',
  ctrlH: '\b',
} as const;

export interface KeyResult {
  state: ViewState;
  quit?: boolean;
  /** The interval changed: the loop reschedules the next sample. */
  intervalChanged?: boolean;
}

function moveSelection(state: ViewState, vmKeys: readonly string[], by: number): ViewState {
  if (vmKeys.length === 0) return state;
  const i = state.selected === undefined ? -1 : vmKeys.indexOf(state.selected);
  const next = i < 0 ? (by > 0 ? 0 : vmKeys.length - 1) : Math.min(vmKeys.length - 1, Math.max(0, i + by));
  return { ...state, selected: vmKeys[next] };
}

/**
 * One key. `vmKeys` are the VMs currently listed at VM level, in display order (for ↑/↓ and for
 * choosing a VM to drill into when none is selected).
 */
export function applyKey(state: ViewState, key: string, vmKeys: readonly string[]): KeyResult {
  if (key === KEY.ctrlC) return { state, quit: true };
  if (state.editing !== undefined) {
    if (key === KEY.enter || key === '\n') return { state: withFilter(state, state.editing) };
    if (key === KEY.esc) return { state: { ...state, editing: undefined } };
    if (key === KEY.backspace || key === KEY.ctrlH)
      return { state: { ...state, editing: [...state.editing].slice(0, -1).join('') } };
    if (key.length > 0 && !key.startsWith('\u001b') && key >= ' ')
      return { state: { ...state, editing: state.editing + key } };
    return { state };
  }
  if (state.help && key !== 'q') return { state: { ...state, help: false } };
  switch (key) {
    case 'q':
      return { state, quit: true };
    case 'h':
    case '?':
      return { state: { ...state, help: true } };
    case 's':
      return { state: { ...state, sort: nextSortColumn(state.sort) } };
    case 'S':
      return { state: { ...state, sort: { ...state.sort, descending: !state.sort.descending } } };
    case '/':
      return { state: { ...state, editing: state.filter } };
    case 'p':
    case ' ':
      return { state: { ...state, paused: !state.paused } };
    case '+':
    case '=':
      return intervalResult(state, stepInterval(state.intervalMs, 1));
    case '-':
    case '_':
      return intervalResult(state, stepInterval(state.intervalMs, -1));
    case KEY.up:
    case KEY.upApp:
    case 'k':
      return { state: state.level === 'vm' ? moveSelection(state, vmKeys, -1) : state };
    case KEY.down:
    case KEY.downApp:
    case 'j':
      return { state: state.level === 'vm' ? moveSelection(state, vmKeys, 1) : state };
    case 'v':
    case KEY.enter:
    case '\n':
      if (state.level === 'vcpu') return { state: { ...state, level: 'vm' } };
      if (vmKeys.length === 0) return { state };
      return {
        state: {
          ...state,
          level: 'vcpu',
          selected: state.selected !== undefined && vmKeys.includes(state.selected) ? state.selected : vmKeys[0],
        },
      };
    case KEY.esc:
      return { state: state.level === 'vcpu' ? { ...state, level: 'vm' } : state };
    default:
      return { state };
  }
}

function intervalResult(state: ViewState, intervalMs: number): KeyResult {
  return intervalMs === state.intervalMs ? { state } : { state: { ...state, intervalMs }, intervalChanged: true };
}

/** Help text lines (shown by `h`). */
export function helpLines(): string[] {
  return [
    'hvkit top — keys',
    '  q, Ctrl-C   quit',
    `  s / S       next sort column (${COLUMNS.filter((c) => c.sortValue)
      .map((c) => c.id)
      .join(', ')}) / reverse`,
    '  /           filter VM names by a regex (Enter applies, Esc cancels, empty clears)',
    '  ↑ ↓         select a VM',
    '  v, Enter    vCPUs of the selected VM / back to all VMs (also Esc)',
    '  p           pause sampling (the screen stays; keys still work)',
    '  + / -       longer / shorter sampling interval',
    '  h           this help (any key closes it)',
  ];
}
