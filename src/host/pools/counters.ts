/**
 * Pool counters of one domain: kept as numbers for the `stats` call and, when the domain has a
 * stats table of revision ≥ 6, published to its `pool` group under the group's seqlock. The host
 * thread is the group's one writer (the vCPU workers write only their vCPU blocks).
 */
import type { PoolCounterName, PoolCounterValues } from '../../formats/callword/pool.ts';
import { POOL_COUNTERS } from '../../formats/callword/pool.ts';
import type { GroupWriter } from '../../formats/stats-table/writer.ts';

/** The stats-table group the counters go to. */
export const POOL_GROUP = 'pool';

export class PoolCounters {
  readonly values: PoolCounterValues = {
    puts: 0,
    gets: 0,
    hits: 0,
    misses: 0,
    evictions: 0,
    pages_held: 0,
    flushes: 0,
    refused: 0,
  };
  readonly #group: GroupWriter | undefined;
  readonly #ids: Record<PoolCounterName, number> | undefined;

  /** `group`: the domain's `pool` group writer, or none (the table's revision has no pool group). */
  constructor(group?: GroupWriter) {
    this.#group = group;
    if (group) {
      this.#ids = Object.fromEntries(POOL_COUNTERS.map((n) => [n, group.counter(n)])) as Record<
        PoolCounterName,
        number
      >;
    }
  }

  /** Adds the deltas (cumulative counters) and sets pages_held, as one seqlocked update. */
  record(deltas: Partial<Record<Exclude<PoolCounterName, 'pages_held'>, number>>, pagesHeld?: number): void {
    for (const [name, n] of Object.entries(deltas) as [PoolCounterName, number][]) this.values[name] += n;
    if (pagesHeld !== undefined) this.values.pages_held = pagesHeld;
    const g = this.#group;
    const ids = this.#ids;
    if (!g || !ids) return;
    g.begin();
    try {
      for (const [name, n] of Object.entries(deltas) as [PoolCounterName, number][]) if (n !== 0) g.add(ids[name], n);
      if (pagesHeld !== undefined) g.set(ids.pages_held, pagesHeld);
    } finally {
      g.end();
    }
  }
}
