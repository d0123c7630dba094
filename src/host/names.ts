/**
 * Names of a host's regions under /dev/shm (HELPER_RULES "Issue 3 conventions"):
 *   hvkit.<pid>.<start>.domains                                  the domain directory
 *   hvkit.<pid>.<start>.dom<domid>.<unique id, 16 hex>.stats     a domain's stats table
 * <pid> and <start> are the host process's pid and start time in clock ticks (/proc/<pid>/stat
 * field 22): together they name the process even after its pid is reused.
 */
import { uniqueIdHex } from './unique-id.ts';

export interface HostIdentity {
  pid: number;
  /** Clock ticks after boot. */
  startTime: bigint;
}

export function hostPrefix(host: HostIdentity): string {
  return `hvkit.${host.pid}.${host.startTime}`;
}

export function directoryRegionName(host: HostIdentity): string {
  return `${hostPrefix(host)}.domains`;
}

export function statsRegionName(host: HostIdentity, domid: number, uniqueId: bigint): string {
  return `${hostPrefix(host)}.dom${domid}.${uniqueIdHex(uniqueId)}.stats`;
}

export type ParsedRegionName =
  | (HostIdentity & { kind: 'domains' })
  | (HostIdentity & { kind: 'stats'; domid: number; uniqueId: bigint })
  | (HostIdentity & { kind: 'other'; rest: string });

const PREFIX = /^hvkit\.([1-9][0-9]{0,9})\.([0-9]{1,20})\.(.+)$/;
const STATS = /^dom([1-9][0-9]{0,4})\.([0-9a-f]{16})\.stats$/;

/** Parses a region name of a host; undefined for names that are not `hvkit.<pid>.<start>.…`. */
export function parseRegionName(name: string): ParsedRegionName | undefined {
  const m = PREFIX.exec(name);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const startTime = BigInt(m[2]!);
  if (pid > 0x7fff_ffff || startTime >= 1n << 64n) return undefined;
  const rest = m[3]!;
  if (rest === 'domains') return { pid, startTime, kind: 'domains' };
  const s = STATS.exec(rest);
  if (s) return { pid, startTime, kind: 'stats', domid: Number(s[1]), uniqueId: BigInt(`0x${s[2]}`) };
  return { pid, startTime, kind: 'other', rest };
}
