/**
 * save and restore of a micro-VM through a stream file.
 *
 * save: refuse FILE unless it is free (or a regular file and `force` is set), pause, capture,
 * write the stream to a temporary file in FILE's directory, fsync, put it in place (link, or
 * rename with `force`), then unpause (unless asked to leave the domain paused). Any failure
 * removes the temporary file and lets the domain run on: FILE is either the complete new stream
 * or untouched (src/os/replace-file.ts).
 *
 * restore: read and verify the WHOLE stream first (StreamReader: header, every record, checksums,
 * padding, END, consistency; memory bounded by the declared size); only then create a new domain
 * (a new domid and a new unique id: those name a domain on one host, and the saved one may still
 * exist) from the image, paused, load the pools (checked by the pool service before the domain is
 * created), and unpause — unless the image was saved paused or the caller asks for it paused.
 * A failure after creation destroys the new domain.
 */
import { read } from 'node:fs';
import { promisify } from 'node:util';
import { environmentError, UsageError } from '../../errors.ts';
import { newestStreamVersion } from '../../formats/stream/abi.ts';
import type { SkippedRecords, VerifiedImage } from '../../formats/stream/image.ts';
import { type ReadOptions, StreamReader } from '../../formats/stream/reader.ts';
import { streamPieces, type WriteOptions } from '../../formats/stream/writer.ts';
import { openInput } from '../../os/open-input.ts';
import { checkOutputTarget, writeFileAtomically } from '../../os/replace-file.ts';
import type { Workload } from '../../vmm/backend.ts';
import type { GuestProgram } from '../../vmm/guests.ts';
import type { DomainInfo, Host } from '../host.ts';
import { asLimitError } from '../limits.ts';
import { type CaptureOptions, captureDomain } from './capture.ts';
import type { PoolStreamHooks } from './hooks.ts';
import { destroyAfterFailure, releaseAfterFailure } from './leftover.ts';

export interface SaveOptions extends CaptureOptions, WriteOptions {
  /** Leave the domain paused after the save (default: it runs on as before). */
  leavePaused?: boolean;
  /** Replace an existing regular file at FILE (never anything else; default: refuse). */
  force?: boolean;
  /** Tests: called with each batch of bytes before it is written (throwing aborts the save). */
  onWrite?: (bytes: number) => void;
}

export interface SaveResult {
  domid: number;
  file: string;
  bytes: number;
  version: number;
}

/** Writes `pieces` to `file` through a temporary file and one atomic step (src/os/replace-file.ts). */
export { writeFileAtomically };

export async function saveDomain(
  host: Host,
  domid: number,
  file: string,
  options: SaveOptions = {},
): Promise<SaveResult> {
  // Refused before the domain is paused; checked again where the file is put in place.
  checkOutputTarget(file, options.force);
  const captured = await captureDomain(host, domid, options);
  const version = options.version ?? newestStreamVersion();
  let bytes: number;
  try {
    bytes = writeFileAtomically(file, streamPieces(captured.image, { version }), {
      ...(options.force ? { force: true } : {}),
      ...(options.onWrite ? { onWrite: options.onWrite } : {}),
    });
  } catch (err) {
    return releaseAfterFailure(domid, captured.release, 'save', err);
  }
  if (!options.leavePaused) await captured.release();
  return { domid, file, bytes, version };
}

/** Bytes read (and verified) per slice; the event loop runs between slices. */
const READ_BYTES = 1 << 20;

const readAt = promisify(read);

/**
 * Reads and verifies a stream file completely (nothing is applied). The file is opened as every
 * input is (openInput): a FIFO or device given as FILE is refused at once instead of blocking the
 * host's event loop in open(2). It is read in slices with asynchronous reads, each pushed into
 * the reader before the next is asked for: a host restoring a large stream goes on answering its
 * other callers meanwhile, and holds one slice of file data at a time besides the image.
 */
export async function readStreamFile(file: string, options: ReadOptions = {}): Promise<VerifiedImage> {
  const input = openInput(file);
  try {
    const reader = new StreamReader(options);
    for (let position = 0; ; ) {
      const buf = new Uint8Array(READ_BYTES);
      let n: number;
      try {
        ({ bytesRead: n } = await readAt(input.fd, buf, 0, buf.length, position));
      } catch (err) {
        throw environmentError(file, err);
      }
      if (n === 0) break;
      reader.push(buf.subarray(0, n));
      position += n;
    }
    return reader.finish();
  } finally {
    input.close();
  }
}

export interface RestoreOptions extends ReadOptions {
  pools?: PoolStreamHooks;
  /** Leave the restored domain paused (default: as saved — running unless it was saved paused). */
  paused?: boolean;
  /** Name of the new domain (default: the saved one). */
  name?: string;
}

export interface RestoreResult {
  domain: DomainInfo;
  /** Stream version read, and the version it was upgraded from when older. */
  version: number;
  upgradedFrom?: number;
  /** Optional records present but not applied (unknown types; pools without a pool service). */
  notApplied: string[];
}

/** Distinct skipped record types named in a restore's answer; the rest are counted. */
const SKIPPED_TYPES_NAMED = 8;

/**
 * The optional records a restore skipped, bounded: one entry per record type (with its count),
 * the first few types named and the others counted — a stream may hold thousands of them, and
 * the answer must stay small enough for its reader.
 */
export function describeSkipped(skipped: SkippedRecords): string[] {
  const out: string[] = [];
  for (const { type, count } of skipped.slice(0, SKIPPED_TYPES_NAMED)) {
    out.push(`${count === 1 ? '' : `${count} × `}record type 0x${type.toString(16)} (unknown optional)`);
  }
  if (skipped.length > SKIPPED_TYPES_NAMED) {
    const rest = skipped.slice(SKIPPED_TYPES_NAMED).reduce((sum, s) => sum + s.count, 0);
    out.push(`${rest} more unknown optional records of ${skipped.length - SKIPPED_TYPES_NAMED} other types`);
  }
  return out;
}

/** Creates a new domain from a verified image and lets it continue where it stopped. */
export async function restoreImage(
  host: Host,
  image: VerifiedImage,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  if (image.domain.cpu !== host.backend.kind) {
    throw new UsageError(
      `the image holds ${image.domain.cpu} vCPU state; this host runs the ${host.backend.kind} backend`,
    );
  }
  const notApplied = describeSkipped(image.skipped);
  if (image.pools && !options.pools) notApplied.push('pools (no pool service)');
  // Before the domain exists: a snapshot the pool service would refuse leaves nothing behind.
  if (image.pools && options.pools) options.pools.validate(image.pools.version, image.pools.data);
  const info = await host.createDomain({
    name: options.name ?? image.domain.name,
    vcpus: image.domain.vcpus,
    memoryMiB: image.domain.memoryMiB,
    workload: image.domain.workload as Workload,
    paused: true,
    vmm: {
      program: image.domain.program as GuestProgram,
      rounds: image.domain.rounds,
      restore: { vcpus: image.vcpus, pages: () => image.memory.pages() },
    },
  });
  let poolsLoaded = false;
  try {
    if (image.pools && options.pools) {
      options.pools.restore(info.domid, image.pools.version, image.pools.data);
      poolsLoaded = true;
    }
    const paused = options.paused ?? image.options.paused;
    const domain = paused ? info : await host.unpause(info.domid);
    return {
      domain,
      version: image.version,
      ...(image.upgradedFrom === undefined ? {} : { upgradedFrom: image.upgradedFrom }),
      notApplied,
    };
  } catch (err) {
    if (poolsLoaded) options.pools?.discard(info.domid);
    return destroyAfterFailure(host, info.domid, 'restore', err);
  }
}

/** Verifies `file` completely, then restores it (see restoreImage). */
export async function restoreDomain(host: Host, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  // The host's guest-memory limit applies at the stream's header: a larger guest is never read.
  const maxMemoryMiB = Math.min(options.maxMemoryMiB ?? Number.POSITIVE_INFINITY, host.limits.maxGuestMemoryMiB);
  let image: VerifiedImage;
  try {
    image = await readStreamFile(file, { ...options, maxMemoryMiB });
  } catch (err) {
    throw asLimitError(err, host.limits);
  }
  return restoreImage(host, image, options);
}
