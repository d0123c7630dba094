/**
 * What a read command points at: a file (a capture, a saved table) or a live region under
 * /dev/shm named with --shm. Both are opened once, safely (src/os/open-input.ts,
 * src/attach/region-open.ts: no FIFO blocks, no symlink is followed, only regular files), and
 * the format is detected from the first word read through that same descriptor.
 */
import { openRegionFile, type RegionAccess } from '../attach/region-open.ts';
import { FormatError, UsageError } from '../errors.ts';
import { detectFormat, detectFormatOf, type StatsFormat } from '../formats/detect.ts';
import { openInput, preadFully } from '../os/open-input.ts';
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

/** Largest saved table read into memory; live regions are mapped or copied instead. */
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

/** A saved region file, read whole into memory through its descriptor. */
function readRegionFile(file: ReturnType<typeof openInput>, format: StatsFormat): Region {
  const size = file.stat.size;
  if (size > MAX_TABLE_FILE) {
    throw new FormatError(
      format,
      'region',
      'region-too-large',
      `files over ${MAX_TABLE_FILE} bytes are refused`,
      String(size),
    );
  }
  const bytes = new Uint8Array(size);
  return bytesRegion(bytes.subarray(0, preadFully(file, bytes, 0)), file.path);
}
