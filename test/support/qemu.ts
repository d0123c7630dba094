/**
 * QEMU as a real foreign VMM for tests and benchmarks: starts qemu-system-x86_64 with a QMP
 * socket, and a minimal QMP client (one command at a time, replies in order, events skipped).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface Qmp {
  readonly socket: Socket;
  /** Sends one command and resolves with its reply ({return} or {error}). */
  call(command: string, args?: object): Promise<Record<string, unknown>>;
  close(): void;
}

export interface QemuVm {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly accel: string;
  readonly qmp: Qmp;
  /** QEMU's `--version` first line. */
  readonly version: string;
  stop(): void;
}

export interface QemuOptions {
  vcpus: number;
  memoryMiB?: number;
  /** `-bios` image (default: QEMU's own firmware). */
  bios?: string;
  /** Accelerators to try in order (default: kvm only). */
  accels?: string[];
  /** How long to wait for the QMP socket (default 30 s). */
  startTimeoutMs?: number;
}

export function qemuInstalled(): boolean {
  return spawnSync('sh', ['-c', `command -v ${QEMU_BINARY}`]).status === 0;
}

export async function qmpConnect(path: string): Promise<Qmp> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]();
  const nextReply = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const r = await lines.next();
      if (r.done) throw new Error('QMP socket closed');
      const msg = JSON.parse(r.value) as Record<string, unknown>;
      if (!('event' in msg)) return msg;
    }
  };
  await nextReply(); // greeting
  const qmp: Qmp = {
    socket,
    async call(command, args) {
      socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
      return nextReply();
    },
    close: () => socket.destroy(),
  };
  const caps = await qmp.call('qmp_capabilities');
  if (!('return' in caps)) throw new Error(`qmp_capabilities: ${JSON.stringify(caps)}`);
  return qmp;
}

/** Starts QEMU (first accelerator that works) and connects QMP; throws with QEMU's own words. */
export async function startQemu(options: QemuOptions): Promise<QemuVm> {
  const version = spawnSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '';
  const failures: string[] = [];
  for (const accel of options.accels ?? ['kvm']) {
    const dir = mkdtempSync(join(tmpdir(), 'hvkit-qemu-'));
    const sock = join(dir, 'qmp.sock');
    const child = spawn(
      QEMU_BINARY,
      [
        '-accel',
        accel,
        '-machine',
        'pc',
        '-smp',
        String(options.vcpus),
        '-m',
        String(options.memoryMiB ?? 16),
        '-nodefaults',
        '-no-user-config',
        '-display',
        'none',
        ...(options.bios ? ['-bios', options.bios] : []),
        '-qmp',
        `unix:${sock},server=on,wait=off`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const cleanup = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    const end = Date.now() + (options.startTimeoutMs ?? 30_000);
    while (!existsSync(sock) && child.exitCode === null && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(sock)) {
      cleanup();
      failures.push(`-accel ${accel}: ${stderr.trim().split('\n').at(-1) || 'no QMP socket'}`);
      continue;
    }
    try {
      const qmp = await qmpConnect(sock);
      return {
        child,
        pid: child.pid!,
        accel,
        qmp,
        version,
        stop: () => {
          qmp.close();
          cleanup();
        },
      };
    } catch (err) {
      cleanup();
      failures.push(`-accel ${accel}: QMP: ${err instanceof Error ? err.message : err}`);
    }
  }
  throw new Error(`QEMU did not start (${failures.join('; ')})`);
}
