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

  /**
   * Destroys every runtime and waits for all of them, also when some fail (Promise.all would
   * return at the first failure, with the others' teardown still under way); then throws the
   * first failure.
   */
  async destroyAll(): Promise<void> {
    const outcomes = await Promise.allSettled([...this.#runtimes].map((r) => r.destroy()));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
