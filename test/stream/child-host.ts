/** Starts test/stream/fixtures/host-child.ts in its own process and talks to it line by line. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

const FIXTURE = new URL('./fixtures/host-child.ts', import.meta.url).pathname;

export class ChildHost {
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  readonly #queue: string[] = [];
  readonly #waiters: ((line: string | undefined) => void)[] = [];
  #exited = false;
  address = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdin!.on('error', () => {}); // a child that died: its exit is what the tests look at
    this.#lines = createInterface({ input: child.stdout! });
    this.#lines.on('line', (line) => {
      const w = this.#waiters.shift();
      if (w) w(line);
      else this.#queue.push(line);
    });
    child.on('exit', () => {
      this.#exited = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    });
  }

  static async start(backend: string, at: string, extra: string[] = []): Promise<ChildHost> {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, backend, at, ...extra], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env },
    });
    const h = new ChildHost(child);
    const first = (await h.#next()) as { listening: string } | undefined;
    if (!first) throw new Error('child host exited before listening');
    h.address = first.listening;
    return h;
  }

  get exited(): boolean {
    return this.#exited;
  }

  #next(): Promise<unknown> {
    const line = this.#queue.shift();
    if (line !== undefined) return Promise.resolve(JSON.parse(line));
    if (this.#exited) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push((l) => resolve(l === undefined ? undefined : JSON.parse(l))));
  }

  async ask<T>(command: string): Promise<T> {
    this.#child.stdin!.write(`${command}\n`);
    const answer = await this.#next();
    if (answer === undefined) throw new Error(`child host exited before answering ${command}`);
    return answer as T;
  }

  async list(): Promise<{ domid: number; name: string; state: string; uniqueId: string }[]> {
    return this.ask('list');
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exit = new Promise((r) => this.#child.once('exit', r));
    this.#child.stdin!.write('quit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  }
}
