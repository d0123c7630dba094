/**
 * The KVM lane: runs a command where /dev/kvm works.
 *
 *   npx tsx scripts/kvm-lane.ts [options] [--] COMMAND [ARG…]      (npm run lane -- COMMAND …)
 *
 * On a machine whose /dev/kvm is usable the command simply runs here. Otherwise the lane boots
 * Debian's kernel under QEMU's emulator with an AMD CPU that has SVM (kvm_amd loads, /dev/kvm
 * appears), shares the host's root read-only and this project read-write at the same path, runs
 * the command inside from the current directory, streams its output and exits with its status.
 * Only HVKIT_*, CI and NODE_OPTIONS pass from this environment into the guest, plus --env K=V.
 *
 * Options:
 *   --emulate              boot the guest even when /dev/kvm is usable here (to test the lane)
 *   --timeout SECONDS      bound on the whole run, boot included (default 1800)
 *   --boot-timeout SECONDS bound on the guest coming up (default 240)
 *   --memory MIB           guest memory (default 6144)
 *   --cpus N               guest CPUs (default: this machine's, at most 4)
 *   --env K=V              set a variable in the guest (repeatable)
 *   --build-only           build or check the cached guest image and exit
 *
 * Exit status: the command's; 124 when a timeout hit, 125 when the lane could not run it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { kvmUnavailableReason } from '../src/kvm/system.ts';
import { bootJob } from './lane/boot.ts';
import { ensureImage } from './lane/image.ts';
import { LaneSetupError } from './lane/packages.ts';

const PROJECT = dirname(dirname(fileURLToPath(import.meta.url)));
const CACHE = join(PROJECT, 'build', 'kvm-lane');

const log = (line: string) => process.stderr.write(`kvm-lane: ${line}\n`);

function seconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new LaneSetupError(`--${name}: want seconds in (0, 86400], got ${value}`);
  return n;
}

function positive(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new LaneSetupError(`--${name}: want an integer in 1..${max}, got ${value}`);
  return n;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

function jobScript(cwd: string, command: string[], extraEnv: string[]): string {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    HVKIT_IN_LANE: '1',
    // Emulation runs 15-20x slower: tests stretch their hang deadlines (test/support/slowdown.ts),
    // by less than that, since most of a deadline is slack.
    HVKIT_TEST_SLOWDOWN: '10',
    ...(process.stdout.isTTY ? { TERM: process.env.TERM ?? 'xterm' } : { NO_COLOR: '1', TERM: 'dumb' }),
  };
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k.startsWith('HVKIT_') || k === 'CI' || k === 'NODE_OPTIONS')) env[k] = v;
  }
  for (const kv of extraEnv) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new LaneSetupError(`--env: want K=V, got ${kv}`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // Names go into the script unquoted: only shell identifiers.
  for (const k of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      if (extraEnv.some((kv) => kv.startsWith(`${k}=`))) throw new LaneSetupError(`--env: not a variable name: ${k}`);
      delete env[k];
    }
  }
  const lines = Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`);
  lines.push(`cd ${quote(cwd)} || exit 125`, `exec ${command.map(quote).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function ensureHostTools(): void {
  const missing: string[] = [];
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!has('qemu-system-x86_64')) missing.push('qemu-system-x86');
  if (!has('cpio')) missing.push('cpio');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new LaneSetupError(`the lane needs Debian's ${missing.join(' and ')}; install as root`);
  log(`installing ${missing.join(' ')} from Debian's packages …`);
  const r = spawnSync(
    'sh',
    ['-c', `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
  );
  if (r.status !== 0) throw new LaneSetupError(`apt-get install ${missing.join(' ')} failed`);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      emulate: { type: 'boolean' },
      timeout: { type: 'string' },
      'boot-timeout': { type: 'string' },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      env: { type: 'string', multiple: true },
      'build-only': { type: 'boolean' },
    },
  });
  const timeoutMs = seconds('timeout', values.timeout, 1800) * 1000;
  const bootTimeoutMs = seconds('boot-timeout', values['boot-timeout'], 240) * 1000;
  const memoryMiB = positive('memory', values.memory, 6144, 65_536);
  const cpus = positive('cpus', values.cpus, Math.min(4, availableParallelism()), 64);
  if (positionals.length === 0 && !values['build-only'])
    throw new LaneSetupError('no command given (see the header of scripts/kvm-lane.ts)');

  const why = kvmUnavailableReason();
  if (why === undefined && !values.emulate && !values['build-only']) {
    const [cmd, ...args] = positionals as [string, ...string[]];
    const r = spawnSync(cmd, args, { stdio: 'inherit', timeout: timeoutMs, killSignal: 'SIGKILL' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
      log(`the command exceeded ${timeoutMs / 1000} s`);
      return 124;
    }
    return r.status ?? 125;
  }

  // The paths travel on the kernel command line and in QEMU's comma-separated -virtfs options.
  if (/[\s,]/.test(PROJECT)) throw new LaneSetupError(`the project path must not contain spaces or commas: ${PROJECT}`);
  // The guest mounts its own tmpfs over these; what lives there on the host is not visible inside.
  for (const [what, path] of [
    ['node', process.execPath],
    ['the current directory', process.cwd()],
  ] as const) {
    const hidden = ['/tmp/', '/var/tmp/', '/run/', '/root/'].find((d) => path.startsWith(d));
    if (hidden && !`${path}/`.startsWith(`${PROJECT}/`)) {
      throw new LaneSetupError(`${what} (${path}) is under ${hidden}, which the guest replaces with its own tmpfs`);
    }
  }
  ensureHostTools();
  mkdirSync(CACHE, { recursive: true });
  const image = ensureImage(CACHE, log);
  if (values['build-only']) {
    log(`guest image ready: ${image.describe}`);
    return 0;
  }
  log(`${why ? `no usable /dev/kvm here (${why})` : '--emulate'}: running in an emulated guest (${image.describe})`);
  const runDir = join(CACHE, 'runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'job.sh'), jobScript(process.cwd(), positionals, values.env ?? []));
  const result = await bootJob({
    image,
    project: PROJECT,
    runDir,
    memoryMiB,
    cpus,
    bootTimeoutMs,
    timeoutMs,
    onOutput: (chunk) => process.stdout.write(chunk),
    log,
  });
  const took = `${(result.totalMs / 1000).toFixed(1)} s (boot ${(result.bootMs / 1000).toFixed(1)} s)`;
  if (result.failure) {
    log(`${result.failure}; kernel console: ${relative(process.cwd(), join(runDir, 'console.log'))}`);
  } else {
    log(`exit ${result.status} after ${took}`);
    rmSync(runDir, { recursive: true, force: true });
  }
  return result.status;
}

// A reader that went away (a closed pipe) must not crash the lane and orphan its QEMU; the run
// still ends within its timeout.
process.stdout.on('error', () => {});

main().then(
  (status) => process.exit(status),
  (err: unknown) => {
    log(err instanceof LaneSetupError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(125);
  },
);
