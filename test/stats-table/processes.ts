/** Child processes running TypeScript fixtures (through tsx), talking JSON lines on stdout. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { shmPath } from '../../src/shm/shm-file.ts';

export interface TsProcess {
  child: ChildProcessWithoutNullStreams;
  /** The next stdout line, parsed as JSON (bigints travel as strings). */
  next(): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stderr(): string;
}

export function startTs(script: URL, args: string[]): TsProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script.pathname, ...args], { stdio: 'pipe' });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    async next() {
      const r = await lines.next();
      if (r.done) throw new Error(`process ended without output: ${err}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    },
  };
}

/** Runs a fixture to completion and returns every JSON line it printed. */
export async function runTsLines(script: URL, args: string[]): Promise<Record<string, unknown>[]> {
  const p = startTs(script, args);
  const lines: Record<string, unknown>[] = [];
  for (;;) {
    try {
      lines.push(await p.next());
    } catch {
      break;
    }
  }
  const code = await p.exited;
  if (code !== 0 || lines.length === 0) throw new Error(`${script.pathname} exited with ${code}: ${p.stderr()}`);
  return lines;
}

/** Runs a fixture to completion and returns its last JSON line. */
export async function runTs(script: URL, args: string[]): Promise<Record<string, unknown>> {
  const lines = await runTsLines(script, args);
  return lines[lines.length - 1]!;
}

/** Stops a fixture by its pid if it is still running and removes a region it left behind. */
export function cleanup(p: TsProcess | undefined, name: string): void {
  if (p && p.child.exitCode === null) p.child.kill();
  if (existsSync(shmPath(name))) unlinkSync(shmPath(name));
}

let counter = 0;
export function uniqueName(tag: string): string {
  return `hvkit-test-${process.pid}-${tag}-${counter++}`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
