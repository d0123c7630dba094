import type { Command } from 'commander';
import type { SampleSource } from '../../attach/sample.ts';
import { COUNT_LIMITS, DEFAULT_INTERVAL_MS, INTERVAL_LIMITS_MS, runTop } from '../../tools/top/run.ts';
import { color } from '../output.ts';
import { parseInteger } from './args.ts';

interface TopCliOptions {
  interval: string;
  count?: string;
  once?: boolean;
  json?: boolean;
  csv?: boolean;
  log?: string;
  vcpus?: boolean;
  filter?: string;
  sort?: string;
}

export function registerTop(program: Command, setExit: (code: number) => void, makeSource: () => SampleSource): void {
  program
    .command('top')
    .description('live view of every KVM VM on the host: rates, sparklines, histogram percentiles, lifecycle events')
    .option(
      '--interval <ms>',
      `milliseconds between samples (${INTERVAL_LIMITS_MS.min}..${INTERVAL_LIMITS_MS.max})`,
      String(DEFAULT_INTERVAL_MS),
    )
    .option('--count <n>', 'stop after n samples')
    .option('--once', 'print one screen after two samples one interval apart, then exit')
    .option('--json', 'one JSON document per sample (JSON Lines; u64 values as decimal strings)')
    .option('--csv', 'CSV to stdout: a header, then one row per VM per sample')
    .option('--log <file>', 'append CSV rows to a file (header only when the file is new)')
    .option('--vcpus', 'CSV: also one row per vCPU')
    .option('--filter <regex>', 'only VMs whose name matches (case-insensitive)')
    .option('--sort <column>', 'exits, halt, io, mmio, run, p99, name, pid or domid; add :asc or :desc')
    .action(async (opts: TopCliOptions) => {
      const options = {
        intervalMs: parseInteger('--interval', opts.interval, INTERVAL_LIMITS_MS),
        count: opts.count === undefined ? undefined : parseInteger('--count', opts.count, COUNT_LIMITS),
        once: opts.once,
        json: opts.json,
        csv: opts.csv,
        logFile: opts.log,
        vcpus: opts.vcpus,
        filter: opts.filter,
        sort: opts.sort,
      };
      const code = await runTop(makeSource(), options, {
        stdout: process.stdout,
        stderr: process.stderr,
        stdin: process.stdin,
        paint: color,
      });
      setExit(code);
    });
}
