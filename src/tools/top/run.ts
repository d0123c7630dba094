/**
 * `hvkit top` without the command line: picks the mode (interactive on a terminal, otherwise
 * plain screens, JSON or CSV), runs the sampling loop and returns the exit code. Commander-free
 * so tests and other front ends can drive it with any SampleSource and any streams.
 */
import { writeSync } from 'node:fs';
import type { SampleSource } from '../../attach/sample.ts';
import { describeError, EnvironmentError, exitCodeFor, UsageError } from '../../errors.ts';
import { type AppendFile, openAppendOutput } from '../../os/replace-file.ts';
import { CsvLog } from './csv.ts';
import { type Frame, TopTracker } from './frame.ts';
import { frameDocument, serializeJson } from './json.ts';
import { compileFilter, parseSortColumn, type SortSpec } from './order.ts';
import { type Paint, PLAIN, renderScreen, visibleVmRows } from './screen.ts';
import { INTERVAL_LIMITS_MS, initialState, type ViewState } from './state.ts';
import { type InteractiveIo, runInteractive, type TerminalIn, type TerminalOut } from './terminal.ts';

export interface TopOptions {
  /** Milliseconds between samples (default 1000). */
  intervalMs?: number;
  /** Stop after this many samples (unattended modes). */
  count?: number;
  /** One screen (or document, or CSV sample) after two samples one interval apart. */
  once?: boolean;
  json?: boolean;
  /** CSV to stdout. */
  csv?: boolean;
  /** CSV appended to this file (the header only when the file is new or empty). */
  logFile?: string;
  /** CSV: a row per vCPU after each VM's row. */
  vcpus?: boolean;
  /** Regex over VM names. */
  filter?: string;
  /** Sort column id (exits, halt, io, mmio, run, p99, name, pid, domid), optionally with ":asc"/":desc". */
  sort?: string;
  /** A line shown under the table on screen (the demo says where its web view is). */
  note?: string;
}

export interface TopIo {
  stdout: Partial<TerminalOut> & { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
  stdin?: TerminalIn;
  /** Colours for the interactive view; plain text when absent. */
  paint?: Paint;
}

export const DEFAULT_INTERVAL_MS = 1000;
export { INTERVAL_LIMITS_MS };
/** Samples `--count` may ask for: at least one; a billion lasts years even at the shortest interval. */
export const COUNT_LIMITS = { min: 1, max: 1_000_000_000 } as const;

function checkLimits(option: string, value: number, limits: { min: number; max: number; unit?: string }): void {
  if (!Number.isInteger(value) || value < limits.min || value > limits.max) {
    const unit = limits.unit ? ` ${limits.unit}` : '';
    throw new UsageError(`${option} must be a whole number in ${limits.min}..${limits.max}${unit} (got ${value})`);
  }
}
/** Width of plain output when stdout is not a terminal: wide enough for every column. */
export const PLAIN_WIDTH = 200;

export type TopMode = 'interactive' | 'plain' | 'json' | 'csv';

export function parseSort(text: string): SortSpec {
  const [name = '', direction] = text.split(':');
  const spec = parseSortColumn(name);
  if (!spec)
    throw new UsageError(`--sort: unknown column "${name}" (use exits, halt, io, mmio, run, p99, name, pid or domid)`);
  if (direction === undefined) return spec;
  if (direction !== 'asc' && direction !== 'desc')
    throw new UsageError(`--sort: direction must be asc or desc (got "${direction}")`);
  return { ...spec, descending: direction === 'desc' };
}

/** Checks the options and decides the mode; throws UsageError for contradictions and bad values. */
export function chooseMode(options: TopOptions, io: TopIo): TopMode {
  if (options.json && (options.csv || options.logFile))
    throw new UsageError('--json cannot be combined with --csv or --log');
  if (options.csv && options.logFile) throw new UsageError('--csv and --log both write CSV; choose one');
  checkLimits('--interval', options.intervalMs ?? DEFAULT_INTERVAL_MS, INTERVAL_LIMITS_MS);
  if (options.count !== undefined) checkLimits('--count', options.count, COUNT_LIMITS);
  if (options.json) return 'json';
  if (options.csv || options.logFile) return 'csv';
  if (!options.once && io.stdout.isTTY && io.stdin?.isTTY && io.stdin.setRawMode) return 'interactive';
  return 'plain';
}

function sleep(ms: number, cancel: { wake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancel.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

interface Emitter {
  frame(frame: Frame): void;
  close(): void;
}

/** The --log file (openAppendOutput), its errors saying which option named it. */
function openLog(path: string): AppendFile {
  try {
    return openAppendOutput(path);
  } catch (err) {
    if (!(err instanceof EnvironmentError)) throw err;
    const named = new EnvironmentError(`--log ${err.message}`);
    (named as { cause?: unknown }).cause = err;
    throw named;
  }
}

function makeEmitter(mode: TopMode, options: TopOptions, state: ViewState, io: TopIo): Emitter {
  const keys = (frame: Frame) => visibleVmRows(frame, state).map((r) => r.key);
  if (mode === 'json') {
    return {
      frame: (frame) => io.stdout.write(`${serializeJson(frameDocument(frame, keys(frame)), options.once === true)}\n`),
      close: () => {},
    };
  }
  if (mode === 'csv') {
    let write = (text: string) => void io.stdout.write(text);
    let close = () => {};
    let headerAlreadyWritten = false;
    if (options.logFile) {
      const log = openLog(options.logFile);
      headerAlreadyWritten = log.stat.size > 0;
      write = (text) => void writeSync(log.fd, text);
      close = () => log.close();
    }
    const log = new CsvLog(write, { headerAlreadyWritten });
    return { frame: (frame) => log.frame(frame, visibleVmRows(frame, state), options.vcpus === true), close };
  }
  let first = true;
  return {
    frame: (frame) => {
      const size = { columns: io.stdout.columns ?? PLAIN_WIDTH, rows: Number.POSITIVE_INFINITY };
      const text = renderScreen(frame, state, size, { paint: PLAIN, note: options.note }).join('\n');
      io.stdout.write(`${first ? '' : '\n'}${text}\n`);
      first = false;
    },
    close: () => {},
  };
}

/** The unattended loop: samples on a fixed schedule until --count, --once or a signal. */
async function runUnattended(source: SampleSource, mode: TopMode, options: TopOptions, state: ViewState, io: TopIo) {
  const emitter = makeEmitter(mode, options, state, io);
  const tracker = new TopTracker();
  const cancel: { wake?: () => void } = {};
  let stopped = false;
  const stop = () => {
    stopped = true;
    cancel.wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const wanted = options.once ? 2 : (options.count ?? Number.POSITIVE_INFINITY);
    const start = performance.now();
    for (let n = 0; n < wanted && !stopped; n++) {
      if (n > 0) {
        // Keep the schedule: a slow sample does not push every later sample back.
        await sleep(Math.max(0, start + n * state.intervalMs - performance.now()), cancel);
        if (stopped) break;
      }
      const frame = tracker.push(source.sample());
      if (!options.once || n === 1) emitter.frame(frame);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    emitter.close();
  }
}

/**
 * Runs `hvkit top` on `source` until done and returns the exit code: 0 when done (or stopped by
 * q, Ctrl-C or a signal in unattended modes), 2 for bad options or any error (printed on stderr
 * after the terminal is restored). The source is closed in every case.
 */
export async function runTop(source: SampleSource, options: TopOptions, io: TopIo): Promise<number> {
  let mode: TopMode;
  let state: ViewState;
  try {
    mode = chooseMode(options, io);
    const sort = options.sort === undefined ? undefined : parseSort(options.sort);
    const filter = options.filter ?? '';
    const compiled = compileFilter(filter);
    if (!compiled.ok && mode !== 'interactive') throw new UsageError(`--filter: ${compiled.error}`);
    state = initialState({ intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS, sort, filter });
  } catch (error) {
    closeQuietly(source, io);
    return fail(error, io);
  }
  if (mode === 'interactive') {
    const interactiveIo: InteractiveIo = {
      stdout: io.stdout as TerminalOut,
      stdin: io.stdin!,
      stderr: io.stderr,
      paint: io.paint ?? PLAIN,
      note: options.note,
    };
    return runInteractive(source, new TopTracker(), state, interactiveIo);
  }
  try {
    await runUnattended(source, mode, options, state, io);
    source.close();
    return 0;
  } catch (error) {
    closeQuietly(source, io);
    return fail(error, io);
  }
}

function closeQuietly(source: SampleSource, io: TopIo): void {
  try {
    source.close();
  } catch (e) {
    // Already failing: the first error decides the exit code, but this one is still told.
    io.stderr.write(`hvkit top: closing after the failure: ${describeError(e)}\n`);
  }
}

/** The one mapping of errors to text and exit codes (src/cli/errors.ts), as every command uses. */
function fail(error: unknown, io: TopIo): number {
  io.stderr.write(`hvkit top: ${describeError(error)}\n`);
  return exitCodeFor(error);
}
