import type { Command } from 'commander';
import { startHostServer } from '../../ctl/serve.ts';
import { UsageError } from '../../errors.ts';
import { WORKLOADS, type Workload } from '../../host/backend.ts';
import type { CallInstaller } from '../../host/calls-host.ts';
import { MAX_DOMID } from '../../host/lifecycle.ts';
import { type Limits, MEMORY_MIB, parseInteger, parseSeconds, VCPUS } from './args.ts';

interface HostCliOptions {
  domains: string;
  workload: string;
  vcpus: string;
  memory: string;
  json?: boolean;
  listen?: string;
  peerTimeout?: string;
  verifyTimeout?: string;
}

/** What `hvkit host` passes to the families it installs. */
export interface HostServiceOptions {
  listen?: string;
  peerTimeoutMs?: number;
  verifyTimeoutMs?: number;
}

export interface RegisterHostOptions {
  /** Families other modules add to the host's dispatcher (pools, streams …), given the command's options. */
  installers?: (options: HostServiceOptions) => readonly CallInstaller[];
}

/** Domains created at start: as many as there are domids. */
const DOMAINS: Limits = { min: 0, max: MAX_DOMID };
/** A migration wait: more than 0, at most a day. */
const MAX_TIMEOUT_SECONDS = 86_400;

function parseWorkload(text: string): Workload {
  if (!(WORKLOADS as readonly string[]).includes(text)) {
    throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')} (got "${text}")`);
  }
  return text as Workload;
}

/** `hvkit host`: a host in the foreground serving its control socket until SIGINT/SIGTERM. */
export function registerHost(
  program: Command,
  setExit: (code: number) => void,
  options: RegisterHostOptions = {},
): Command {
  return program
    .command('host')
    .description('run a host in the foreground, serving its control socket (for `hvkit ctl`) until Ctrl-C')
    .option('--domains <n>', 'micro-VMs to create at start', '0')
    .option('--workload <w>', `workload of those micro-VMs (${WORKLOADS.join(', ')})`, 'compute')
    .option('--vcpus <n>', 'vCPUs of each', '1')
    .option('--memory <MiB>', 'guest memory of each', '4')
    .option(
      '--listen <addr>',
      'also accept incoming migrations on this unix socket path or HOST:PORT (unauthenticated: loopback or a trusted network only)',
    )
    .option('--peer-timeout <seconds>', 'each wait on a migration peer (default 10)')
    .option(
      '--verify-timeout <seconds>',
      'how long a destination may take to verify a migration stream this host sends (default 60)',
    )
    .option('--json', 'print the start line as JSON')
    .action(async (opts: HostCliOptions) => {
      const services: HostServiceOptions = {
        ...(opts.listen === undefined ? {} : { listen: opts.listen }),
        ...(opts.peerTimeout === undefined
          ? {}
          : { peerTimeoutMs: parseSeconds('--peer-timeout', opts.peerTimeout, MAX_TIMEOUT_SECONDS) }),
        ...(opts.verifyTimeout === undefined
          ? {}
          : { verifyTimeoutMs: parseSeconds('--verify-timeout', opts.verifyTimeout, MAX_TIMEOUT_SECONDS) }),
      };
      const count = parseInteger('--domains', opts.domains, DOMAINS);
      const workload = parseWorkload(opts.workload);
      const vcpus = parseInteger('--vcpus', opts.vcpus, VCPUS);
      const memoryMiB = parseInteger('--memory', opts.memory, MEMORY_MIB);
      const server = await startHostServer({
        ...(options.installers ? { installers: options.installers(services) } : {}),
        domains: Array.from({ length: count }, () => ({ vcpus, memoryMiB, workload })),
        onInternalError: (call, e) =>
          process.stderr.write(`hvkit host: ${call} failed: ${(e as Error)?.message ?? e}\n`),
      });
      const { host } = server;
      const start = {
        pid: host.identity.pid,
        socket: server.socket.path,
        backend: host.backend.kind,
        backendReason: host.backendReason,
        domains: server.domains.map((d) => ({ domid: d.domid, name: d.name, state: d.state })),
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(start)}\n`);
      else {
        process.stdout.write(
          `host ${start.pid} serving ${start.socket} (backend ${start.backend}: ${start.backendReason})\n`,
        );
        for (const d of start.domains) process.stdout.write(`  domain ${d.domid} ${d.name} ${d.state}\n`);
      }
      // Handlers stay installed while stopping: a second Ctrl-C must not kill the cleanup half-way.
      let signalled!: () => void;
      const stopSignal = new Promise<void>((resolve) => {
        signalled = resolve;
      });
      const onSignal = () => signalled();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      await stopSignal;
      try {
        await server.stop();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      process.stdout.write(opts.json ? `${JSON.stringify({ stopped: start.pid })}\n` : `host ${start.pid} stopped\n`);
      setExit(0);
    });
}
