import type { ResolvedAbi } from '../abi/resolved.ts';
import { FormatError } from '../errors.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import { blockOffset } from '../formats/stats-table/layout.ts';
import { type DecodedTable, StatsTableReader, type TableSnapshot } from '../formats/stats-table/reader.ts';
import { processStartTime, processUid } from '../os/procfs.ts';
import type { Region } from '../shm/region.ts';
import { parseRegionName, statsRegionName } from '../shm/region-names.ts';
import { listShmNames, SHM_DIR, type ShmFile, ShmFileError } from '../shm/shm-file.ts';
import { type OpenedHvkitRegion, openRegionFile, type RegionAccess } from './region-open.ts';
import { type TableIdentity, tableIdentity } from './table-identity.ts';
import { TableSamplePlan, type TableSamples } from './table-samples.ts';

export interface TableName {
  name: string;
  pid: number;
  startTime: bigint;
  domid: number;
  uniqueId: bigint;
}

/** Parses a stats table name; undefined for any other file. */
export function parseTableName(name: string): TableName | undefined {
  const parsed = parseRegionName(name);
  if (parsed?.kind !== 'stats') return undefined;
  return { name, pid: parsed.pid, startTime: parsed.startTime, domid: parsed.domid, uniqueId: parsed.uniqueId };
}

/** The stats table name of a domain (the same convention the host names it by). */
export function tableName(pid: number, startTime: bigint, domid: number, uniqueId: bigint): string {
  return statsRegionName({ pid, startTime }, domid, uniqueId);
}

/** Every stats table name under `dir` (a cheap readdir; nothing is opened). */
export function listTableNames(dir = SHM_DIR): TableName[] {
  const names = listShmNames(dir);
  return names.flatMap((n) => parseTableName(n) ?? []);
}

/** How a table is read: mapped, copied with pread, or (auto) copied only when another user owns it. */
export type TableAccess = RegionAccess;

export interface TableOpenOptions {
  access?: TableAccess;
  /** /proc, for the owner check (tests). */
  proc?: string;
}

/**
 * Refuses (ShmFileError 'owner-mismatch') a table whose file is not owned by the user the process
 * named in its file name runs as, or whose process is gone or was replaced.
 */
export function checkTableOwner(file: ShmFile, table: TableName, proc?: string): void {
  const uid = processUid(table.pid, proc);
  // Read after the uid: if the start time still matches, the uid belonged to the named process.
  const start = processStartTime(table.pid, proc);
  if (uid === undefined || start !== table.startTime) {
    throw new ShmFileError(file.path, 'owner-mismatch', `process ${table.pid} started at ${table.startTime} is gone`);
  }
  if (file.stat.uid !== uid) {
    throw new ShmFileError(
      file.path,
      'owner-mismatch',
      `owned by uid ${file.stat.uid}, but process ${table.pid} runs as uid ${uid} (forged table?)`,
    );
  }
}

/**
 * The region of a listed stats table, opened the one safe way (openRegionFile: no symlink, no
 * FIFO, mapped only when this user owns it) with its owner checked against the process its name
 * names; anything but a stats table is refused. Every reader of a domain's table (the attach
 * session, `check --attach`) opens it here.
 */
export function openTableRegion(
  table: TableName,
  abi: ResolvedAbi = shippedStatsTableAbi(),
  options: TableOpenOptions = {},
): OpenedHvkitRegion {
  const opened = openRegionFile(table.name, {
    tableAbi: abi,
    ...(options.access ? { access: options.access } : {}),
    verify: (file) => checkTableOwner(file, table, options.proc),
  });
  if (opened.format !== 'stats-table') {
    opened.close();
    throw new FormatError(
      'stats-table',
      'dom.magic',
      'magic',
      `${opened.path} is not a stats table (${opened.format})`,
    );
  }
  return opened;
}

/** An open, read-only stats table of one hvkit domain. */
export class HvkitTable {
  /** Identity words that disagree with the file name (a confused or hostile producer). */
  readonly mismatches: string[];
  readonly #reader: StatsTableReader;
  readonly #region: Region;
  readonly #copy: OpenedHvkitRegion | undefined;
  #snapshot: TableSnapshot;
  #identity: TableIdentity;
  #identityChanged = false;
  /** Made at the first sample(): tables only ever read() (checks, dump) never pay for it. */
  #samplePlan: TableSamplePlan | undefined;
  /** The bytes of every identity word as last decoded, and where they are (see #identityBytesChanged). */
  readonly #identityRanges: { start: number; end: number }[];
  readonly #identityBytes: Uint8Array;

  private constructor(
    readonly tableName: TableName,
    region: Region,
    reader: StatsTableReader,
    readonly abi: ResolvedAbi,
    copy: OpenedHvkitRegion | undefined,
  ) {
    this.#region = region;
    this.#reader = reader;
    this.#copy = copy;
    this.#snapshot = reader.allocSnapshot();
    this.#identity = tableIdentity(reader.decode(reader.snapshot(this.#snapshot)));
    this.mismatches = identityMismatches(tableName, this.#identity);
    this.#identityRanges = identityRanges(reader);
    this.#identityBytes = new Uint8Array(this.#identityRanges.reduce((n, r) => n + r.end - r.start, 0));
    this.#identityBytesChanged(this.#snapshot.bytes);
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

  /** True when the table is read through pread copies rather than a mapping. */
  get copied(): boolean {
    return this.#copy !== undefined;
  }

  /**
   * Opens the table through openRegionFile (never following a symlink, never blocking on a FIFO,
   * mapped only when this user owns it), checks that its owner is the user of the process its
   * name names and validates its header. Throws ShmFileError (with its rule), FormatError or an
   * EnvironmentError when it cannot.
   */
  static open(table: TableName, abi: ResolvedAbi = shippedStatsTableAbi(), options: TableOpenOptions = {}): HvkitTable {
    const opened = openTableRegion(table, abi, options);
    const copy = opened.copied ? opened : undefined;
    try {
      const reader = opened.tableReader ?? StatsTableReader.open(opened.region, abi);
      return new HvkitTable(table, opened.region, reader, abi, copy);
    } catch (err) {
      opened.close();
      throw err;
    }
  }

  get nrVcpus(): number {
    return this.#reader.layout.nrVcpus;
  }

  /** One consistent copy of the table, decoded (torn groups are marked, never waited for). */
  read(): DecodedTable {
    this.#copy?.refresh();
    const table = this.#reader.decode(this.#reader.snapshot(this.#snapshot));
    this.#identityBytesChanged(this.#snapshot.bytes);
    this.#noteIdentity(table);
    return table;
  }

  /**
   * One consistent copy of the table as samples: what tableStatSamples gives for read()'s groups
   * (every vCPU block listed, an invalid one with no stats), without decoding the table. The
   * identity is re-decoded only when its words' bytes changed.
   */
  sample(): TableSamples {
    this.#copy?.refresh();
    const snapshot = this.#reader.snapshot(this.#snapshot);
    if (this.#identityBytesChanged(snapshot.bytes)) this.#noteIdentity(this.#reader.decode(snapshot));
    this.#samplePlan ??= new TableSamplePlan(this.#reader);
    return this.#samplePlan.samples(snapshot);
  }

  #noteIdentity(table: DecodedTable): void {
    if (identityComplete(this.#identity)) return;
    const fresh = tableIdentity(table);
    if (identityKey(fresh) !== identityKey(this.#identity)) {
      this.#identity = fresh;
      this.#identityChanged = true;
    }
  }

  /** Compares the identity words of `bytes` with those last seen and keeps them; true when any differs. */
  #identityBytesChanged(bytes: Uint8Array): boolean {
    const kept = this.#identityBytes;
    let changed = false;
    let at = 0;
    for (const { start, end } of this.#identityRanges) {
      for (let i = start; i < end; i++, at++) {
        if (kept[at] !== bytes[i]) {
          kept[at] = bytes[i]!;
          changed = true;
        }
      }
    }
    return changed;
  }

  close(): void {
    this.#region.close();
  }
}

/**
 * Where in a snapshot the identity is: every domain identity word, the name, and every vCPU's
 * identity words (the only bytes tableIdentity decodes), clipped to the table's extent.
 */
function identityRanges(reader: StatsTableReader): { start: number; end: number }[] {
  const { model, layout } = reader;
  const out: { start: number; end: number }[] = [];
  const add = (start: number, length: number) => {
    const end = Math.min(start + length, reader.extent);
    if (start < end) out.push({ start, end });
  };
  for (const w of Object.values(model.domIdentity)) if (w) add(w.offset, w.size);
  if (model.domName) add(model.domName.offset, model.domName.length);
  for (let v = 0; v < layout.nrVcpus; v++) {
    const base = blockOffset(layout, 'vcpu', v);
    for (const w of Object.values(model.vcpuIdentity)) if (w) add(base + w.offset, w.size);
  }
  return out;
}

/** All the words a host publishes once its domain is up: the VM's and every vCPU's stats fd. */
function identityComplete(id: TableIdentity): boolean {
  return id.dom.vmStatsFd !== undefined && id.vcpus.every((v) => v.kvmStatsFd !== undefined);
}

function identityKey(id: TableIdentity): string {
  return JSON.stringify(id, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

export function identityMismatches(name: TableName, id: TableIdentity): string[] {
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
