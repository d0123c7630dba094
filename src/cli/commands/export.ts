import type { Command } from 'commander';
import type { SampleSource } from '../../attach/sample.ts';
import { UsageError } from '../../errors.ts';
import { parseEndpoint } from '../../host/migration/endpoint.ts';
import { ExpositionCollector } from '../../tools/export/collector.ts';
import { DEFAULT_LISTEN, startExportServer } from '../../tools/export/server.ts';
import { DEFAULT_WEB_INTERVAL_MS, startWebView, type WebView } from '../../tools/web/view.ts';
import { parseInteger } from './args.ts';

interface ExportCliOptions {
  listen: string;
  vcpu: boolean;
  maxSeries?: string;
  maxWaiting: string;
  pid?: string;
  web: boolean;
  webInterval: string;
  [option: string]: unknown;
}

/**
 * Something more `hvkit export` can do over the same collections (an OTLP push, …): it adds its
 * options to the command and, when they ask for it, starts; the stop it returns runs on SIGINT
 * or SIGTERM before the endpoint closes.
 */
export interface ExportExtension {
  options(command: Command): void;
  start(options: Record<string, unknown>, collector: ExpositionCollector): Promise<(() => Promise<void>) | undefined>;
}

const MAX_SERIES = { min: 0, max: 100_000_000 };
const MAX_WAITING = { min: 1, max: 10_000 };
const PIDS = { min: 1, max: 2 ** 22 };
const WEB_INTERVAL_MS = { min: 100, max: 3_600_000 };

function parseListen(text: string) {
  try {
    return parseEndpoint(text, { listening: true });
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--listen: ${e.message}`);
    throw e;
  }
}

export function registerExport(
  program: Command,
  setExit: (code: number) => void,
  makeSource: (options: { pids?: number[] }) => SampleSource,
  extensions: readonly ExportExtension[] = [],
): void {
  const command = program
    .command('export')
    .description(
      'serve /metrics for Prometheus: every KVM VM on the host (KVM stats per VM and per vCPU, hvkit VMM counters), native histograms',
    )
    .option(
      '--listen <host:port>',
      'address of the HTTP endpoint (loopback by default; port 0: any free port)',
      DEFAULT_LISTEN,
    )
    .option('--no-vcpu', 'no per-vCPU series (fewer series on hosts with many vCPUs)')
    .option(
      '--max-series <n>',
      'export at most n VM and vCPU series; the rest count in hvkit_export_series_dropped_total',
    )
    .option('--max-waiting <n>', 'scrapes that may wait on one collection; more get 503', '16')
    .option('--pid <pid,…>', 'only the VMs of these processes (default: every process on the host)')
    .option('--no-web', 'no web view (the page at / and its JSON API under /api/)')
    .option('--web-interval <ms>', 'how often the web view samples the host', String(DEFAULT_WEB_INTERVAL_MS));
  for (const e of extensions) e.options(command);
  command.action(async (opts: ExportCliOptions) => {
    const endpoint = parseListen(opts.listen);
    if (endpoint.kind !== 'tcp') throw new UsageError('--listen: Prometheus scrapes over TCP: give host:port');
    const pids = opts.pid?.split(',').map((p) => parseInteger('--pid', p.trim(), PIDS));
    const collector = new ExpositionCollector(makeSource(pids ? { pids } : {}), {
      vcpus: opts.vcpu,
      maxWaiting: parseInteger('--max-waiting', opts.maxWaiting, MAX_WAITING),
      ...(opts.maxSeries === undefined ? {} : { maxSeries: parseInteger('--max-series', opts.maxSeries, MAX_SERIES) }),
    });
    let signalled!: () => void;
    const stopSignal = new Promise<void>((resolve) => {
      signalled = resolve;
    });
    const onSignal = () => signalled();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const stops: (() => Promise<void>)[] = [];
    const webInterval = parseInteger('--web-interval', opts.webInterval, WEB_INTERVAL_MS);
    let web: WebView | undefined;
    try {
      if (opts.web) web = startWebView(collector, { intervalMs: webInterval });
      const server = await startExportServer(collector, endpoint, web?.routes);
      stops.push(() => server.close());
      if (web) {
        const view = web;
        stops.unshift(async () => view.close());
      }
      for (const e of extensions) {
        const stop = await e.start(opts, collector);
        if (stop) stops.unshift(stop);
      }
      process.stdout.write(`hvkit export: serving ${server.url}\n`);
      if (web) process.stdout.write(`hvkit export: web view at ${server.origin}\n`);
      await stopSignal;
    } finally {
      if (stops.length === 0) web?.close();
      for (const stop of stops) await stop();
      collector.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    setExit(0);
  });
}
