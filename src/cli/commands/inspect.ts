import type { Command } from 'commander';
import { formatViolation } from '../../errors.ts';
import { checkTarget } from '../../tools/check.ts';
import { type DumpStream, withDump } from '../../tools/dump.ts';
import { dumpToTextStream } from '../../tools/dump-text.ts';
import { resolveTarget } from '../../tools/target.ts';
import { EXIT_CHECK_FAILED, EXIT_OK } from '../errors.ts';
import { color, writeTable } from '../output.ts';
import { Deferred, FdWriter, writeJson } from '../stream-out.ts';
import { type Limits, parseInteger } from './args.ts';
import { runLiveCheck } from './check-live.ts';

/** The pause between two samples of a live source: none at all up to a minute. */
const CHECK_INTERVAL_MS: Limits = { min: 0, max: 60_000, unit: 'ms' };

interface ReadOptions {
  shm?: string;
  copy?: boolean;
  json?: boolean;
}

const COPY_HELP =
  "with --shm: read the region through pread copies, never map it (the default for another user's region)";

function targetOf(file: string | undefined, opts: ReadOptions) {
  return resolveTarget(file, opts.shm, opts.copy ? 'copy' : undefined);
}

interface LiveOptions extends ReadOptions {
  interval?: string;
  attach?: string;
  all?: boolean;
  watch?: boolean;
}

export function registerInspect(program: Command, setExit: (code: number) => void): void {
  program
    .command('check [file]')
    .description('detect the format (KVM binary stats or stats table) and check every invariant; exit 1 when invalid')
    .option('--shm <name>', 'check a live region under /dev/shm instead of a file')
    .option('--copy', COPY_HELP)
    .option('--attach <pids>', 'check the live KVM stats fds (and hvkit tables) of these processes: PID[,PID…]')
    .option('--all', 'check every VM on the host')
    .option('--watch', 'with --attach/--all: keep checking, print each violation once; Ctrl-C ends')
    .option('--interval <ms>', 'pause between samples of a live source (default 100, 1000 with --watch)')
    .option('--json', 'print JSON')
    .action(async (file: string | undefined, opts: LiveOptions) => {
      if (opts.attach !== undefined || opts.all || opts.watch) {
        setExit(await runLiveCheck(file, opts));
        return;
      }
      const intervalMs = parseInteger('--interval', opts.interval ?? '100', CHECK_INTERVAL_MS);
      const report = checkTarget(targetOf(file, opts), { intervalMs });
      if (opts.json) {
        // A hostile table can earn a violation per vCPU: written as produced, like dump's JSON.
        const out = new FdWriter(1, 'stdout');
        writeJson(out, report);
        out.flush();
      } else {
        for (const v of report.violations) {
          const line = formatViolation(v);
          process.stdout.write(`${v.severity === 'error' ? color.red(line) : color.yellow(line)}\n`);
        }
        const verdict = report.errors === 0 ? color.green('valid') : color.red('INVALID');
        process.stdout.write(
          `${report.target}: ${report.format}: ${verdict} (${report.errors} error(s), ${report.warnings} warning(s))\n`,
        );
      }
      setExit(report.errors === 0 ? EXIT_OK : EXIT_CHECK_FAILED);
    });

  program
    .command('dump [file]')
    .description('print every statistic of a file or live region, units scaled, histograms with percentiles')
    .option('--shm <name>', 'dump a live region under /dev/shm instead of a file')
    .option('--copy', COPY_HELP)
    .option('--json', 'print JSON (u64 values as decimal strings)')
    .action((file: string | undefined, opts: ReadOptions) => {
      // Written as produced (stream-out.ts): a huge valid file dumps in memory bounded by one row.
      const out = new FdWriter(1, 'stdout');
      withDump(targetOf(file, opts), (dump) => {
        if (opts.json) writeJson(out, jsonShape(dump));
        else {
          const text = dumpToTextStream(dump);
          out.write(`${color.bold(text.title)}\n`);
          writeTable(out, text.table.header, text.table.rows, text.table.align);
          for (const note of text.notes()) out.write(`note: ${note}\n`);
        }
      });
      out.flush();
      setExit(EXIT_OK);
    });
}

/** The JSON of a dump, keys in the order `hvkit dump --json` has always written them. */
function jsonShape(dump: DumpStream): unknown {
  if (dump.format !== 'kvm-stats') return dump;
  const { statCount: _count, itemsOmitted, ...stats } = dump.stats;
  const omitted = new Deferred(() => (itemsOmitted() > 0 ? itemsOmitted() : undefined));
  return { ...dump, stats: { ...stats, itemsOmitted: omitted } };
}
