/** `hvkit check --attach PID[,PID…] | --all [--watch] [--interval MS] [--json]`: wiring only. */
import { UsageError } from '../../errors.ts';
import {
  checkLive,
  earlierExitedLine,
  eventLine,
  findingLine,
  LiveChecker,
  type LiveEvent,
  type LiveFinding,
  liveExitCode,
  reportLines,
  skippedLine,
  verdictLine,
} from '../../tools/live-check/index.ts';
import { color } from '../output.ts';
import { type Limits, parseInteger } from './args.ts';

const INTERVAL_MS: Limits = { min: 0, max: 60_000, unit: 'ms' };
const WATCH_INTERVAL_MS: Limits = { min: 10, max: 3_600_000, unit: 'ms' };
const PID: Limits = { min: 1, max: 4_194_304 };

interface LiveCliOptions {
  attach?: string;
  all?: boolean;
  watch?: boolean;
  interval?: string;
  json?: boolean;
  shm?: string;
  copy?: boolean;
}

function parsePids(list: string): number[] {
  const pids = list.split(',').map((p) => parseInteger('--attach', p.trim(), PID));
  return [...new Set(pids)];
}

export async function runLiveCheck(file: string | undefined, opts: LiveCliOptions): Promise<number> {
  if (file !== undefined || opts.shm !== undefined || opts.copy) {
    throw new UsageError('--attach/--all check running processes: name no FILE, --shm or --copy with them');
  }
  if ((opts.attach === undefined) === !opts.all)
    throw new UsageError('name exactly one of --attach PID[,PID…] or --all');
  const pids = opts.attach === undefined ? undefined : parsePids(opts.attach);
  const options = pids ? { pids } : {};
  if (opts.watch) {
    const intervalMs = parseInteger('--interval', opts.interval ?? '1000', WATCH_INTERVAL_MS);
    return watch(new LiveChecker(options), intervalMs, opts.json ?? false);
  }
  const intervalMs = parseInteger('--interval', opts.interval ?? '100', INTERVAL_MS);
  const { report } = checkLive({ ...options, intervalMs });
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    for (const { line, severity } of reportLines(report)) {
      const painted = severity === 'error' ? color.red(line) : severity === 'warning' ? color.yellow(line) : line;
      process.stdout.write(`${painted}\n`);
    }
  }
  return liveExitCode(report);
}

/**
 * Samples every interval until SIGINT (or SIGTERM): each new violation and each VM appearing,
 * leaving or found uncheckable is printed once with its ISO time (--json: one object per line).
 */
async function watch(checker: LiveChecker, intervalMs: number, json: boolean): Promise<number> {
  let stop: () => void = () => {};
  let stopped = false;
  const stopping = new Promise<void>((resolve) => {
    stop = () => {
      stopped = true;
      resolve();
    };
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const write = (at: number, line: string, record: LiveFinding | LiveEvent) => {
    const time = new Date(at).toISOString();
    process.stdout.write(json ? `${JSON.stringify({ time, ...record })}\n` : `${time} ${line}\n`);
  };
  try {
    while (!stopped) {
      const { findings, events } = checker.sample();
      for (const e of events) write(e.at, eventLine(e), e);
      for (const f of findings) write(f.at, findingLine(f), f);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopping, new Promise<void>((r) => (timer = setTimeout(r, intervalMs)))]);
      clearTimeout(timer);
    }
    const report = checker.report();
    if (json) process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), report })}\n`);
    else {
      const time = new Date().toISOString();
      for (const vm of report.vms) process.stdout.write(`${time} ${verdictLine(vm)}\n`);
      if (report.earlierExited) process.stdout.write(`${time} ${earlierExitedLine(report.earlierExited)}\n`);
      if (report.skipped.length > 0) process.stdout.write(`${time} ${skippedLine(report.skipped)}\n`);
    }
    return liveExitCode(report);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    checker.close();
  }
}
