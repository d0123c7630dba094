/**
 * Removing regions of hosts that are gone (after a crash or kill -9 nothing unlinked them).
 *
 * A region named `hvkit.<pid>.<start>.…` under /dev/shm belongs to the process (pid, start). It
 * is stale when that pid is gone, or now names a process started at another time (pid reuse).
 * Regions of live hosts — and of processes whose liveness /proc hides from us — are left alone,
 * as is every file whose name does not follow the convention.
 */

import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type Liveness, processLiveness } from '../os/procfs.ts';
import { parseRegionName } from '../shm/region-names.ts';
import { listShmNames, SHM_DIR } from '../shm/shm-file.ts';

export interface StaleRegion {
  name: string;
  pid: number;
  startTime: bigint;
}

/** Regions under `dir` whose host is dead. */
export function findStaleRegions(dir = SHM_DIR): StaleRegion[] {
  const names = listShmNames(dir);
  const liveness = new Map<string, Liveness>();
  const out: StaleRegion[] = [];
  for (const name of names.sort()) {
    const parsed = parseRegionName(name);
    if (!parsed) continue;
    const key = `${parsed.pid}.${parsed.startTime}`;
    let state = liveness.get(key);
    if (state === undefined) {
      state = processLiveness(parsed.pid, parsed.startTime);
      liveness.set(key, state);
    }
    if (state === 'dead') out.push({ name, pid: parsed.pid, startTime: parsed.startTime });
  }
  return out;
}

/** Removes the stale regions under `dir`; returns the names removed. */
export function removeStaleRegions(dir = SHM_DIR): string[] {
  const removed: string[] = [];
  for (const r of findStaleRegions(dir)) {
    try {
      unlinkSync(join(dir, r.name));
      removed.push(r.name);
    } catch (e) {
      // Another host's start removed it first: fine. Anything else (EACCES: another user's) is left.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') continue;
    }
  }
  return removed;
}
