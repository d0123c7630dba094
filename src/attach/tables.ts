/**
 * hvkit's own domains, found through their stats tables under /dev/shm:
 * `hvkit.<pid>.<start>.dom<domid>.<unique id, 16 hex digits>.stats`. The name says which host
 * process owns the domain (pid + start time, so a reused pid is never mistaken for the host) and
 * which domain it is; the identity words inside say which of the host's fds are its KVM stats fds.
 */
import { readdirSync } from 'node:fs';
import type { ResolvedAbi } from '../abi/resolved.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import { type DecodedTable, StatsTableReader, type TableSnapshot } from '../formats/stats-table/reader.ts';
import type { Region } from '../shm/region.ts';
import { openShmRegion, SHM_DIR } from '../shm/shm-file.ts';
import { type TableIdentity, tableIdentity } from './table-identity.ts';

export interface TableName {
  name: string;
  pid: number;
  startTime: bigint;
  domid: number;
  uniqueId: bigint;
}

const TABLE_NAME = /^hvkit\.(\d{1,10})\.(\d{1,20})\.dom(\d{1,5})\.([0-9a-f]{16})\.stats$/;

/** Parses a stats table name; undefined for any other file. */
export function parseTableName(name: string): TableName | undefined {
  const m = TABLE_NAME.exec(name);
  if (!m) return undefined;
  const domid = Number(m[3]);
  const uniqueId = BigInt(`0x${m[4]}`);
  if (domid < 1 || domid > 32767 || uniqueId === 0n) return undefined;
  return { name, pid: Number(m[1]), startTime: BigInt(m[2]!), domid, uniqueId };
}

/** The stats table name of a domain (the host side uses the same convention). */
export function tableName(pid: number, startTime: bigint, domid: number, uniqueId: bigint): string {
  return `hvkit.${pid}.${startTime}.dom${domid}.${uniqueId.toString(16).padStart(16, '0')}.stats`;
}

/** Every stats table name under `dir` (a cheap readdir; nothing is opened). */
export function listTableNames(dir = SHM_DIR): TableName[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => parseTableName(n) ?? []);
}

/** An open, read-only stats table of one hvkit domain. */
export class HvkitTable {
  /** Identity words that disagree with the file name (a confused or hostile producer). */
  readonly mismatches: string[];
  readonly #reader: StatsTableReader;
  readonly #region: Region;
  #snapshot: TableSnapshot;
  #identity: TableIdentity;
  #identityChanged = false;

  private constructor(
    readonly tableName: TableName,
    region: Region,
    reader: StatsTableReader,
    readonly abi: ResolvedAbi,
  ) {
    this.#region = region;
    this.#reader = reader;
    this.#snapshot = reader.allocSnapshot();
    this.#identity = tableIdentity(reader.decode(reader.snapshot(this.#snapshot)));
    this.mismatches = identityMismatches(tableName, this.#identity);
  }

  get identity(): TableIdentity {
    return this.#identity;
  }

  /**
   * True once after a read found identity words that were still missing when the table was
   * opened: a host publishes the VM's stats fd only after the VM exists, so a table seen early is
   * completed later, and the caller re-plans which fds belong to the domain.
   */
  takeIdentityChange(): boolean {
    const changed = this.#identityChanged;
    this.#identityChanged = false;
    return changed;
  }

  /** Maps the table read-only and validates its header; throws (FormatError, fs errors) when it cannot. */
  static open(table: TableName, abi: ResolvedAbi = shippedStatsTableAbi()): HvkitTable {
    const region = openShmRegion(table.name);
    try {
      return new HvkitTable(table, region, StatsTableReader.open(region, abi), abi);
    } catch (err) {
      region.close();
      throw err;
    }
  }

  get nrVcpus(): number {
    return this.#reader.layout.nrVcpus;
  }

  /** One consistent copy of the table, decoded (torn groups are marked, never waited for). */
  read(): DecodedTable {
    const table = this.#reader.decode(this.#reader.snapshot(this.#snapshot));
    if (!identityComplete(this.#identity)) {
      const fresh = tableIdentity(table);
      if (identityKey(fresh) !== identityKey(this.#identity)) {
        this.#identity = fresh;
        this.#identityChanged = true;
      }
    }
    return table;
  }

  close(): void {
    this.#region.close();
  }
}

/** All the words a host publishes once its domain is up: the VM's and every vCPU's stats fd. */
function identityComplete(id: TableIdentity): boolean {
  return id.dom.vmStatsFd !== undefined && id.vcpus.every((v) => v.kvmStatsFd !== undefined);
}

function identityKey(id: TableIdentity): string {
  return JSON.stringify(id, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function identityMismatches(name: TableName, id: TableIdentity): string[] {
  const out: string[] = [];
  const d = id.dom;
  if (d.domid !== undefined && d.domid !== name.domid) out.push(`domid ${d.domid}`);
  if (d.ownerPid !== undefined && d.ownerPid !== name.pid) out.push(`owner_pid ${d.ownerPid}`);
  if (d.uniqueId !== undefined && d.uniqueId !== name.uniqueId) out.push(`unique_id ${d.uniqueId.toString(16)}`);
  if (d.ownerStartTime !== undefined && d.ownerStartTime !== name.startTime) {
    out.push(`owner_start_time ${d.ownerStartTime}`);
  }
  return out;
}
