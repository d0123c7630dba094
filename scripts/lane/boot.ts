/**
 * Boots the lane's guest under QEMU's emulator (TCG, `-cpu max`: an AMD CPU with SVM and nested
 * paging, so Debian's kvm_amd loads and the guest has /dev/kvm), runs one job in it and returns the
 * job's exit status. The job's output arrives on the guest's second serial port and is streamed
 * as it comes; the kernel console goes to console.log in the run directory.
 *
 * Everything is bounded: the guest must say it is ready within `bootTimeoutMs`, and the whole run
 * must end within `timeoutMs`; past either, QEMU is killed and the lane says which limit it hit.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LaneImage } from './image.ts';

export interface BootOptions {
  image: LaneImage;
  project: string;
  runDir: string;
  memoryMiB: number;
  cpus: number;
  bootTimeoutMs: number;
  timeoutMs: number;
  /** Receives the job's output as it arrives. */
  onOutput: (chunk: Buffer) => void;
  log: (line: string) => void;
}

export interface BootResult {
  /** The job's exit status; 124 for a timeout, 125 when the guest never ran the job. */
  status: number;
  /** Why the lane itself failed, when it did. */
  failure?: string;
  bootMs: number;
  totalMs: number;
}

const READY = /hvkit-lane: ready \(([^)]*)\)/;

export function qemuArgs(o: BootOptions): string[] {
  return [
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-machine',
    'q35',
    '-smp',
    String(o.cpus),
    '-m',
    String(o.memoryMiB),
    '-nodefaults',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    o.image.kernel,
    '-initrd',
    o.image.initrd,
    '-append',
    [
      'console=ttyS0',
      'panic=1',
      'loglevel=4',
      // the guest's page cache and tmpfs live in its memory; no swap, so keep the OOM killer honest
      'transparent_hugepage=never',
      `hvkit.run=${o.runDir}`,
      `hvkit.project=${o.project}`,
    ].join(' '),
    '-serial',
    `file:${join(o.runDir, 'console.log')}`,
    '-serial',
    'stdio',
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${o.project},mount_tag=project,security_model=none,multidevs=remap`,
  ];
}

export function bootJob(o: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', qemuArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let readyAt: number | undefined;
  let failure: string | undefined;
  let pending = '';
  let qemuStderr = '';

  const kill = (why: string) => {
    failure ??= why;
    qemu.kill('SIGKILL');
  };
  // A lane killed from outside (a cancelled CI job) must not leave its QEMU running.
  const onSignal = (signal: NodeJS.Signals) => {
    kill(`the lane got ${signal}`);
    process.exitCode = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15);
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of signals) process.once(s, onSignal);
  const bootTimer = setTimeout(() => {
    if (readyAt === undefined) kill(`the guest did not come up within ${o.bootTimeoutMs / 1000} s`);
  }, o.bootTimeoutMs);
  const totalTimer = setTimeout(() => kill(`the lane run exceeded ${o.timeoutMs / 1000} s`), o.timeoutMs);

  qemu.stdout.on('data', (chunk: Buffer) => {
    if (readyAt === undefined) {
      // Hold the output until the ready line: what comes before it is the guest's setup.
      pending += chunk.toString('latin1');
      const m = READY.exec(pending);
      if (!m) return;
      readyAt = Date.now();
      o.log(`guest ready in ${((readyAt - started) / 1000).toFixed(1)} s: ${m[1]}`);
      const rest = pending.slice(m.index + m[0].length).replace(/^\r?\n/, '');
      pending = '';
      if (rest) o.onOutput(Buffer.from(rest, 'latin1'));
      return;
    }
    o.onOutput(chunk);
  });
  qemu.stderr.on('data', (chunk: Buffer) => {
    qemuStderr = (qemuStderr + chunk.toString()).slice(-4096);
  });

  return new Promise((resolve) => {
    const finish = (status: number) => {
      clearTimeout(bootTimer);
      clearTimeout(totalTimer);
      for (const s of signals) process.off(s, onSignal);
      const totalMs = Date.now() - started;
      const bootMs = (readyAt ?? Date.now()) - started;
      resolve(failure ? { status, failure, bootMs, totalMs } : { status, bootMs, totalMs });
    };
    qemu.on('error', (err) => {
      failure ??= `cannot start qemu-system-x86_64: ${err.message}`;
      finish(125);
    });
    // 'close', not 'exit': the job's last output may still be unread when QEMU exits.
    qemu.on('close', () => {
      if (failure?.includes('exceeded') || failure?.includes('did not come up')) return finish(124);
      const statusFile = join(o.runDir, 'status');
      if (existsSync(statusFile)) {
        const status = Number.parseInt(readFileSync(statusFile, 'utf8').trim(), 10);
        if (Number.isInteger(status)) return finish(status);
      }
      if (pending) o.onOutput(Buffer.from(pending, 'latin1'));
      failure ??= `the guest stopped without running the job to the end${qemuStderr ? `; qemu said: ${qemuStderr.trim()}` : ''}`;
      finish(125);
    });
  });
}
