/**
 * `hvkit export --otlp <url>`: besides serving /metrics, push the same collections to an
 * OpenTelemetry collector over OTLP/HTTP every --otlp-interval seconds. Wiring only: the loop is
 * tools/export/otlp-push.ts, the resource attributes tools/export/otlp-resource.ts.
 *
 * The OTLP modules are imported only when --otlp is given, so a plain `hvkit export` does not
 * load (or pay for) them.
 */
import type { Command } from 'commander';
import { describeError, HvkitError } from '../../errors.ts';
import type { ExpositionCollector } from '../../tools/export/collector.ts';
import { parseSeconds } from './args.ts';
import type { ExportExtension } from './export.ts';

const DEFAULT_INTERVAL_SECONDS = '15';
/** An interval longer than a day is a typo, not a monitoring setup. */
const MAX_INTERVAL_SECONDS = 86_400;

export const exportOtlp: ExportExtension = {
  options(command: Command): void {
    command
      .option(
        '--otlp <url>',
        'also push the metrics over OTLP/HTTP (protobuf) to this http:// URL (path default /v1/metrics)',
      )
      .option('--otlp-interval <seconds>', 'seconds between OTLP pushes', DEFAULT_INTERVAL_SECONDS);
  },

  async start(options: Record<string, unknown>, collector: ExpositionCollector) {
    const url = options.otlp;
    if (typeof url !== 'string') return undefined;
    const intervalMs = parseSeconds('--otlp-interval', String(options.otlpInterval), MAX_INTERVAL_SECONDS);
    const { startOtlpPush } = await import('../../tools/export/otlp-push.ts');
    const push = startOtlpPush({
      url,
      intervalMs,
      collect: () => collector.collectNow().exposition,
      // The loop reports each kind of failure once until a push succeeds again; a defect ends it.
      onError: (error) => {
        const stopped = error instanceof HvkitError && error.kind !== 'internal' ? '' : 'OTLP push stopped: ';
        process.stderr.write(`hvkit: ${stopped}${describeError(error)}\n`);
      },
    });
    return () => push.stop();
  },
};
