/**
 * The one way a tool opens a live region under /dev/shm (`check --shm`, `dump --shm`, `top`'s
 * tables): one descriptor, opened without following a symlink or blocking on a FIFO and checked
 * to be a regular file (openShmFile), on which the format is detected and through which the
 * region is then read — never reopened by name, so what was checked is what is read.
 *
 * A region is mapped only when its file belongs to this process's user; any other owner could
 * shrink it under the mapping and kill the reader with SIGBUS, so it is copied with pread instead
 * (table-copy.ts), where a shrunk file is a ShmFileError ('truncated'). A region whose first word
 * is no hvkit magic is handed back as its descriptor (the caller preads it, e.g. as KVM stats).
 */
import type { ResolvedAbi } from '../abi/resolved.ts';
import { FormatError } from '../errors.ts';
import { detectFormatOf, type StatsFormat } from '../formats/detect.ts';
import { shippedStatsTableAbi } from '../formats/stats-table/abi.ts';
import { StatsTableReader } from '../formats/stats-table/reader.ts';
import { preadFully } from '../os/open-input.ts';
import type { Region } from '../shm/region.ts';
import { closeShmFile, mapShmFile, openShmFile, type ShmFile } from '../shm/shm-file.ts';
import { CopiedTable } from './table-copy.ts';

/** How a region is read: mapped, copied with pread, or (auto) copied unless this user owns it. */
export type RegionAccess = 'auto' | 'map' | 'copy';

export interface RegionOpenOptions {
  access?: RegionAccess;
  /** The stats-table ABI a copied table is bound with (its groups' sequence words); default shipped. */
  tableAbi?: ResolvedAbi;
  /** Checks on the open file before anything is read (e.g. whose table it may be); throw to refuse. */
  verify?: (file: ShmFile) => void;
  /** Tests: called when the format is known, before the region is read. */
  afterDetect?: (format: StatsFormat) => void;
}

interface OpenedBase {
  readonly name: string;
  readonly path: string;
  /** Owner uid of the file, as fstat of the descriptor said. */
  readonly uid: number;
  close(): void;
}

/** An hvkit region, mapped or copied. */
export interface OpenedHvkitRegion extends OpenedBase {
  readonly format: 'stats-table' | 'domain-directory';
  readonly region: Region;
  readonly copied: boolean;
  /** A copied stats table whose header validated: the reader its copy is bound to. */
  readonly tableReader: StatsTableReader | undefined;
  /** Takes a fresh copy of a copied region (a mapping is live and needs none). */
  refresh(): void;
}

/** A region without an hvkit magic: the caller reads it through `fd` (closed by close()). */
export interface OpenedOtherRegion extends OpenedBase {
  readonly format: 'kvm-stats';
  readonly fd: number;
}

export type OpenedRegion = OpenedHvkitRegion | OpenedOtherRegion;

/** Whether a file owned by `uid` may be mapped by this process: only its owner's own. */
export function mayMap(uid: number, access: RegionAccess = 'auto'): boolean {
  if (access !== 'auto') return access === 'map';
  return uid === process.geteuid?.();
}

export function openRegionFile(name: string, options: RegionOpenOptions = {}): OpenedRegion {
  const file = openShmFile(name);
  const base = { name, path: file.path, uid: file.stat.uid };
  let format: StatsFormat;
  try {
    options.verify?.(file);
    format = detectFormatOf(readHead(file));
    options.afterDetect?.(format);
  } catch (err) {
    closeShmFile(file);
    throw err;
  }
  if (format === 'kvm-stats') return { ...base, format, fd: file.fd, close: () => closeShmFile(file) };
  if (mayMap(file.stat.uid, options.access)) {
    const region = mapShmFile(file);
    return {
      ...base,
      format,
      region,
      copied: false,
      tableReader: undefined,
      refresh: () => {},
      close: () => region.close(),
    };
  }
  const copy = CopiedTable.open(file);
  try {
    const tableReader = format === 'stats-table' ? bindTable(copy, options.tableAbi) : undefined;
    if (!tableReader) copy.refresh();
    return {
      ...base,
      format,
      region: copy.region,
      copied: true,
      tableReader,
      refresh: () => copy.refresh(),
      close: () => copy.region.close(),
    };
  } catch (err) {
    copy.region.close();
    throw err;
  }
}

/**
 * Binds a copied table to a reader of its header (then refreshes it group by group). A header
 * the reader refuses leaves it unbound: the caller's own reader or checker reports why.
 */
function bindTable(copy: CopiedTable, abi: ResolvedAbi = shippedStatsTableAbi()): StatsTableReader | undefined {
  let reader: StatsTableReader;
  try {
    reader = StatsTableReader.open(copy.region, abi);
  } catch (err) {
    if (err instanceof FormatError) return undefined;
    throw err;
  }
  copy.bind(reader);
  copy.refresh();
  return reader;
}

/** The first word of the file, read through its descriptor. */
function readHead(file: ShmFile): Uint8Array {
  const head = new Uint8Array(4);
  return head.subarray(0, preadFully(file, head, 0));
}
