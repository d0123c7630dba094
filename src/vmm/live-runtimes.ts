/**
 * The domains a backend runs: each runtime is tracked from creation until its destroy() has
 * finished, then forgotten, so a host that re-creates domains for days holds only live ones.
 */
import type { WorkerDomainRuntime } from './worker-runtime.ts';

export class LiveRuntimes {
  readonly #runtimes = new Set<WorkerDomainRuntime>();

  add(runtime: WorkerDomainRuntime): void {
    this.#runtimes.add(runtime);
    void runtime.destroyed.then(() => this.#runtimes.delete(runtime));
  }

  /** The newest runtime of `domid` that is not destroyed (save/restore captures through it). */
  find(domid: number): WorkerDomainRuntime | undefined {
    let found: WorkerDomainRuntime | undefined;
    for (const r of this.#runtimes) if (r.config.domid === domid && r.state !== 'destroyed') found = r;
    return found;
  }

  get size(): number {
    return this.#runtimes.size;
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.#runtimes].map((r) => r.destroy()));
  }
}
