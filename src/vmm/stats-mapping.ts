/**
 * A domain's stats table as its vCPU workers write it: the host thread maps the table once and
 * unmaps it after every worker has exited; each worker borrows a view of that one mapping. A
 * worker ended by terminate() runs no cleanup, so a mapping of its own would stay in the process
 * until it exits (the same reason a worker borrows the host's kvm_run: Vcpu.borrow).
 */
import { MAP_SHARED, type Mapping, mmap, munmap, PROT_READ, PROT_WRITE, viewOf } from '../os/libc.ts';
import { type Region, ViewRegion } from '../shm/region.ts';
import { closeShmFile, openShmFile } from '../shm/shm-file.ts';

/** Where the host thread mapped the table (plain data: it crosses to the workers). */
export interface StatsArea {
  address: bigint;
  length: number;
}

/** Host thread: maps /dev/shm/<name> read-write (checked as openShmFile does). */
export function mapStatsTable(name: string): Mapping {
  const file = openShmFile(name, { writable: true });
  try {
    return mmap(file.stat.size, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd);
  } finally {
    closeShmFile(file); // the mapping keeps the file's pages; the descriptor is not needed
  }
}

/** Host thread, once every worker has exited: unmaps the table. */
export function unmapStatsTable(mapping: Mapping): void {
  munmap(mapping);
}

/** Worker: the host's mapping as a region; closing it drops the views, never unmaps. */
export function borrowStatsTable(name: string, area: StatsArea): Region {
  const bytes = viewOf(area.address, area.length);
  return new ViewRegion(name, bytes.buffer, bytes.byteOffset, area.length, true);
}
