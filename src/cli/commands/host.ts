import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { CallInstaller } from '../../host/calls-host.ts';
import { MAX_DOMID } from '../../host/lifecycle.ts';
import { DEFAULT_MAX_GUEST_MEMORY_MIB, guestLimits } from '../../host/limits.ts';
import { parseEndpoint } from '../../host/migration/endpoint.ts';
import { startHostServer } from '../../host/server.ts';
import { WORKLOADS, type Workload } from '../../vmm/backend.ts';
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
  maxGuestMemory: string;
  ctlIdleTimeout?: string;
  ctlRequestTimeout?: string;
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

/** The --listen address, checked completely before anything is created. */
function parseListen(text: string): string {
  try {
    parseEndpoint(text, { listening: true });
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--listen: ${e.message}`);
    throw e;
  }
  return text;
}

function parseWorkload(text: string): Workload {
  if (!(WORKLOADS as readonly string[]).includes(text)) {
    throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')} (got "${text}")`);
  }
  return text as Workload;
}

function guestLimitsOption(text: string): { maxGuestMemoryMiB: number } {
  return guestLimits({ maxGuestMemoryMiB: parseInteger('--max-guest-memory', text, MEMORY_MIB) });
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
    .option(
      '--max-guest-memory <MiB>',
      'largest guest RAM one domain may have, created, restored or migrated in',
      String(DEFAULT_MAX_GUEST_MEMORY_MIB),
    )
    .option('--ctl-idle-timeout <seconds>', 'close a control-socket connection idle this long (default 60)')
    .option(
      '--ctl-request-timeout <seconds>',
      'cut off a control-socket request not sent whole, or its answer not read, within this (default 10)',
    )
    .option('--json', 'print the start line as JSON')
    .action(async (opts: HostCliOptions) => {
      // Every option is checked before anything is created: a bad one is a usage error, nothing else.
      const services: HostServiceOptions = {
        ...(opts.listen === undefined ? {} : { listen: parseListen(opts.listen) }),
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
      const limits = guestLimitsOption(opts.maxGuestMemory);
      const socket = {
        ...(opts.ctlIdleTimeout === undefined
          ? {}
          : { idleTimeoutMs: parseSeconds('--ctl-idle-timeout', opts.ctlIdleTimeout, MAX_TIMEOUT_SECONDS) }),
        ...(opts.ctlRequestTimeout === undefined
          ? {}
          : { requestTimeoutMs: parseSeconds('--ctl-request-timeout', opts.ctlRequestTimeout, MAX_TIMEOUT_SECONDS) }),
      };
      // Handlers go in before the host starts: a signal during startup stops it once it is up
      // (or lets a failed start report), never kills it with half its regions created. They stay
      // installed while stopping: a second Ctrl-C must not kill the cleanup half-way.
      let signalled!: () => void;
      const stopSignal = new Promise<void>((resolve) => {
        signalled = resolve;
      });
      const onSignal = () => signalled();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let server: Awaited<ReturnType<typeof startHostServer>>;
      try {
        server = await startHostServer({
          host: { limits },
          socket,
          ...(options.installers ? { installers: options.installers(services) } : {}),
          domains: Array.from({ length: count }, () => ({ vcpus, memoryMiB, workload })),
          onInternalError: (call, e) =>
            process.stderr.write(`hvkit host: ${call} failed: ${(e as Error)?.message ?? e}\n`),
        });
      } catch (e) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        throw e;
      }
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
