/**
 * Names of a host's regions under /dev/shm — one convention for the host that creates them and
 * the tools that find them:
 *   hvkit.<pid>.<start>.domains                                  the domain directory
 *   hvkit.<pid>.<start>.dom<domid>.<unique id, 16 hex>.stats     a domain's stats table
 * <pid> and <start> are the host process's pid and start time in clock ticks (/proc/<pid>/stat
 * field 22): together they name the process even after its pid is reused.
 */
/** A unique id as the 16 hex digits region names carry. */
export function uniqueIdHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}

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

const MAX_DOMID = 32767;
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
  if (s) {
    const domid = Number(s[1]);
    const uniqueId = BigInt(`0x${s[2]}`);
    // domids are 1..32767 and unique ids never 0: anything else is no stats table of a host.
    if (domid <= MAX_DOMID && uniqueId !== 0n) return { pid, startTime, kind: 'stats', domid, uniqueId };
  }
  return { pid, startTime, kind: 'other', rest };
}
