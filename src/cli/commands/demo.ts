import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseEndpoint } from '../../host/migration/endpoint.ts';
import { runDemo } from '../../tools/demo.ts';
import { INTERVAL_LIMITS_MS } from '../../tools/top/run.ts';
import { color } from '../output.ts';
import { type Limits, MEMORY_MIB, parseInteger, VCPUS } from './args.ts';

/** How long the demo runs: up to a day. */
const SECONDS: Limits = { min: 1, max: 86_400, unit: 's' };
/** How often the cycler VM is re-created: a create takes tens of ms; setTimeout stops at 2^31-1 ms. */
const RECREATE_MS: Limits = { min: 100, max: 3_600_000, unit: 'ms' };

interface DemoCliOptions {
  vcpus: string;
  memory: string;
  recreateEvery: string;
  interval: string;
  seconds?: string;
  own?: boolean;
  web: string | false;
}

function parseWeb(text: string) {
  try {
    const endpoint = parseEndpoint(text, { listening: true });
    if (endpoint.kind !== 'tcp') throw new UsageError('the web view listens on TCP: give host:port');
    return endpoint;
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--web: ${e.message}`);
    throw e;
  }
}

export function registerDemo(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('the main job: a host with four micro-VMs under KVM (simulated without /dev/kvm), shown live in top')
    .option('--vcpus <n>', 'vCPUs per VM', '2')
    .option('--memory <MiB>', 'guest memory per VM', '4')
    .option('--recreate-every <ms>', 'destroy and re-create the "cycler" VM this often', '5000')
    .option('--interval <ms>', 'refresh interval of the live view', '1000')
    .option('--seconds <n>', 'stop after this long (default: until q or Ctrl-C on a terminal, 10 s otherwise)')
    .option('--own', 'show only the demo host’s VMs, not every KVM VM on the machine')
    .option('--web <host:port>', 'serve the web view (and /metrics) here; port 0: any free port', '127.0.0.1:0')
    .option('--no-web', 'no web view')
    .action(async (opts: DemoCliOptions) => {
      const intervalMs = parseInteger('--interval', opts.interval, INTERVAL_LIMITS_MS);
      const interactive = process.stdout.isTTY === true && process.stdin.isTTY === true;
      const seconds =
        opts.seconds === undefined ? (interactive ? undefined : 10) : parseInteger('--seconds', opts.seconds, SECONDS);
      const count = seconds === undefined ? undefined : Math.max(1, Math.round((seconds * 1000) / intervalMs));
      const code = await runDemo(
        {
          vcpus: parseInteger('--vcpus', opts.vcpus, VCPUS),
          memoryMiB: parseInteger('--memory', opts.memory, MEMORY_MIB),
          recreateEveryMs: parseInteger('--recreate-every', opts.recreateEvery, RECREATE_MS),
          ownVmsOnly: opts.own === true,
          ...(opts.web === false ? {} : { web: parseWeb(opts.web) }),
          top: { intervalMs, ...(count === undefined ? {} : { count }) },
        },
        { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, paint: color },
        (line) => process.stderr.write(`${line}\n`),
      );
      setExit(code);
    });
}
