/**
 * What a read command points at: a file (a capture, a saved table) or a live region under
 * /dev/shm named with --shm. Both are opened once, safely (src/os/open-input.ts,
 * src/attach/region-open.ts: no FIFO blocks, no symlink is followed, only regular files), and
 * the format is detected from the first word read through that same descriptor.
 */
import { openRegionFile, type RegionAccess } from '../attach/region-open.ts';
import { FormatError, InternalError, UsageError } from '../errors.ts';
import { detectFormat, detectFormatOf, type StatsFormat } from '../formats/detect.ts';
import { directoryModel, shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import { shippedStatsTableAbi, tableModel } from '../formats/stats-table/index.ts';
import { type InputFile, openInput, preadFully } from '../os/open-input.ts';
import { bytesRegion, type Region } from '../shm/region.ts';
import { shmPath } from '../shm/shm-file.ts';

export { detectFormat, type StatsFormat };

export interface Target {
  /** What the user named, for messages. */
  label: string;
  path: string;
  /** Set for --shm: a live region (sampled twice by check). */
  shmName?: string;
  /** How a live region is read (default auto: mapped only when this user owns it). */
  access?: RegionAccess;
}

export function resolveTarget(file: string | undefined, shm: string | undefined, access?: RegionAccess): Target {
  if ((file === undefined) === (shm === undefined)) throw new UsageError('name exactly one of FILE or --shm NAME');
  if (shm !== undefined) {
    return { label: `shm:${shm}`, path: shmPath(shm), shmName: shm, ...(access ? { access } : {}) };
  }
  if (access !== undefined) throw new UsageError('--copy reads a live region: use it with --shm NAME');
  return { label: file as string, path: file as string };
}

/** An open KVM binary stats source: pread through `fd`. */
export interface OpenedStatsFile {
  format: 'kvm-stats';
  fd: number;
  close(): void;
}

/** An open hvkit region: a saved file read into memory, or a live region mapped or copied. */
export interface OpenedRegionTarget {
  format: 'stats-table' | 'domain-directory';
  region: Region;
  /** True for a live region: a second look (after refresh) may see it change. */
  live: boolean;
  /** Makes the next look see the region's current bytes (copied regions; a no-op otherwise). */
  refresh(): void;
  close(): void;
}

export type OpenedTarget = OpenedStatsFile | OpenedRegionTarget;

export interface OpenTargetOptions {
  /** Tests: called when the format is known, before the content is read. */
  afterDetect?: (format: StatsFormat) => void;
}

/** Largest region_size of a saved file read into memory; live regions are mapped or copied instead. */
const MAX_TABLE_FILE = 1 << 30;

/** Opens the target read-only and detects its format; the caller closes what it gets. */
export function openTarget(target: Target, options: OpenTargetOptions = {}): OpenedTarget {
  if (target.shmName !== undefined) {
    const opened = openRegionFile(target.shmName, {
      ...(target.access ? { access: target.access } : {}),
      ...(options.afterDetect ? { afterDetect: options.afterDetect } : {}),
    });
    if (opened.format === 'kvm-stats') return { format: opened.format, fd: opened.fd, close: () => opened.close() };
    return {
      format: opened.format,
      region: opened.region,
      live: true,
      refresh: () => opened.refresh(),
      close: () => opened.close(),
    };
  }
  const file = openInput(target.path);
  try {
    const head = new Uint8Array(4);
    const format = detectFormatOf(head.subarray(0, preadFully(file, head, 0)));
    options.afterDetect?.(format);
    if (format === 'kvm-stats') return { format, fd: file.fd, close: () => file.close() };
    const region = readRegionFile(file, format);
    file.close();
    return { format, region, live: false, refresh: () => {}, close: () => region.close() };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Where a region format keeps its `region_size` word, and how far its header reaches. */
interface RegionHeaderPlace {
  regionSize: { offset: number; size: 4 | 8 };
  /** Bytes from the start that hold every header word. */
  extent: number;
}

function headerPlaceOf(format: StatsFormat): RegionHeaderPlace {
  const header: Record<string, { offset: number; size: number }> =
    format === 'domain-directory'
      ? directoryModel(shippedDomainDirectoryAbi()).header
      : tableModel(shippedStatsTableAbi()).header;
  let extent = 0;
  for (const place of Object.values(header)) extent = Math.max(extent, place.offset + place.size);
  const place = header.region_size;
  if (!place || (place.size !== 4 && place.size !== 8)) {
    throw new InternalError(`the ${format} schema has no region_size header word`);
  }
  return { regionSize: { offset: place.offset, size: place.size }, extent };
}

/**
 * A saved region file, read into memory through its descriptor — header first: only what the
 * header declares (region_size) is read, after checking it against the file's real size and
 * the largest region a reader accepts. A file that is large (or sparse) but declares little
 * costs only what it declares. A region_size too small for a header still reads the header
 * (bounded), so the checker names what is wrong with it.
 */
function readRegionFile(file: InputFile, format: StatsFormat): Region {
  const fileSize = file.stat.size;
  const place = headerPlaceOf(format);
  const head = new Uint8Array(Math.min(place.extent, fileSize));
  const headLength = preadFully(file, head, 0);
  if (headLength < place.extent) return bytesRegion(head.subarray(0, headLength), file.path);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const { offset, size } = place.regionSize;
  const declared = size === 4 ? BigInt(view.getUint32(offset, true)) : view.getBigUint64(offset, true);
  if (declared > BigInt(MAX_TABLE_FILE)) {
    throw new FormatError(
      format,
      'region_size',
      'region-too-large',
      `regions over ${MAX_TABLE_FILE} bytes are refused`,
      String(declared),
    );
  }
  if (declared > BigInt(fileSize)) {
    throw new FormatError(
      format,
      'region_size',
      'region-size-exceeds-mapping',
      `the file has only ${fileSize} bytes`,
      String(declared),
    );
  }
  const bytes = new Uint8Array(Math.max(Number(declared), place.extent));
  bytes.set(head);
  const length = head.length + preadFully(file, bytes.subarray(head.length), head.length);
  return bytesRegion(bytes.subarray(0, length), file.path);
}
