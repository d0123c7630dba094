/**
 * Keys of other VMMs' VMs. A VM re-created under the same identity (same process, same fd
 * numbers) within a source's life still gets a new key (`<key>#2`, `#3`, …), so rates and history
 * never join two VMs. That needs memory of the keys already handed out — but only while their
 * process lives: every key starts with the process's pid and start time, so once the process is
 * gone no VM can ever ask for one of its keys again, and its keys are forgotten.
 */
export class VmKeyAllocator {
  /** `pid:start` of the owner process → base key → times handed out. */
  readonly #used = new Map<string, Map<string, number>>();

  /** A key for a new VM of process `processKey` (`pid:start`) whose identity gives `base`. */
  allocate(processKey: string, base: string): string {
    let keys = this.#used.get(processKey);
    if (!keys) {
      keys = new Map();
      this.#used.set(processKey, keys);
    }
    const n = (keys.get(base) ?? 0) + 1;
    keys.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  }

  /**
   * Forgets the keys of processes that are gone. `current` holds processes with a VM right now
   * (kept without asking); `alive(pid, start)` is asked about the others only.
   */
  prune(current: ReadonlySet<string>, alive: (pid: number, startTime: bigint) => boolean): void {
    for (const processKey of this.#used.keys()) {
      if (current.has(processKey)) continue;
      const [pid, start] = processKey.split(':');
      if (!alive(Number(pid), BigInt(start!))) this.#used.delete(processKey);
    }
  }

  /** Base keys remembered, over all processes (for tests and status). */
  get size(): number {
    let n = 0;
    for (const keys of this.#used.values()) n += keys.size;
    return n;
  }
}
