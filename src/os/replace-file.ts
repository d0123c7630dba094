/**
 * The one way hvkit writes a whole file at a path someone handed it (a saved stream): into a
 * temporary file beside it, fsynced, then put in place in one step, so the path holds either the
 * complete new file or what it held before.
 *
 * Putting a file in place by rename replaces whatever is at the path — a device node, a FIFO, a
 * symlink (not its target), `/dev/null` when running as root. So the target is checked first:
 * nothing there, or a regular file, and a regular file only when the caller asked to replace it
 * (`force`). Without `force` the file is put in place with link(2), which fails if the path
 * exists by then, so no check-then-write window lets an existing file be overwritten; with
 * `force` the target is checked again right before the rename.
 *
 * Every error names the path the caller gave, never the temporary file, and a failed or refused
 * write leaves no temporary file behind.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  unlinkSync,
  writevSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { environmentError, errorCode } from '../errors.ts';
import { FileRefusedError, fileKind, type InputFile, openRegularFile } from './open-input.ts';

export type OutputFileRule = 'symlink' | 'not-regular-file' | 'exists';

/** A write target refused before anything was written to it. */
export class OutputRefusedError extends FileRefusedError<OutputFileRule> {
  override readonly name: string = 'OutputRefusedError';
}

export interface ReplaceFileOptions {
  /** Replace an existing regular file (never anything else). */
  force?: boolean;
  /** Permission bits of the new file, before the umask (default 0600). */
  mode?: number;
  /** Tests: called with the bytes written so far before each batch is written (throwing aborts). */
  onWrite?: (bytes: number) => void;
}

/**
 * Throws OutputRefusedError unless `path` is free, or is a regular file and `force` is set. The
 * final component is not followed: a symlink is refused, whatever it points at.
 */
export function checkOutputTarget(path: string, force = false): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return; // free (a missing directory fails when the file is created)
    throw environmentError(path, err);
  }
  if (st.isSymbolicLink()) throw new OutputRefusedError(path, 'symlink', 'is a symbolic link: refusing to replace it');
  if (!st.isFile()) {
    throw new OutputRefusedError(path, 'not-regular-file', `is a ${fileKind(st)}: refusing to replace it`);
  }
  if (!force) throw new OutputRefusedError(path, 'exists', 'already exists (replace it with --force)');
}

const BATCH_BYTES = 4 << 20;
const BATCH_PIECES = 512;

/** Writes `pieces` to `file` through a temporary file and one atomic step; returns the bytes written. */
export function writeFileAtomically(
  file: string,
  pieces: Iterable<Uint8Array>,
  options: ReplaceFileOptions = {},
): number {
  const force = options.force ?? false;
  checkOutputTarget(file, force);
  const temp = join(dirname(file), tempName(basename(file)));
  let fd: number | undefined;
  let tempLeft = false;
  try {
    try {
      fd = openSync(temp, 'wx', options.mode ?? 0o600);
    } catch (err) {
      throw environmentError(file, err);
    }
    tempLeft = true;
    const total = writePieces(file, fd, pieces, options.onWrite);
    try {
      fsyncSync(fd);
      closeSync(fd);
    } catch (err) {
      throw environmentError(file, err);
    }
    fd = undefined;
    tempLeft = putInPlace(temp, file, force);
    return total;
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (tempLeft) removeTemp(temp, file);
  }
}

/**
 * `.<name>.<random>.tmp` beside the target, with the name cut so that the whole stays within
 * NAME_MAX (255 bytes): a target with a long but valid name must not fail for its temporary's.
 */
function tempName(name: string): string {
  const suffix = `.${randomBytes(6).toString('hex')}.tmp`;
  const room = NAME_MAX - 1 - suffix.length;
  let kept = name;
  while (Buffer.byteLength(kept) > room) kept = kept.slice(0, -1);
  return `.${kept}${suffix}`;
}

const NAME_MAX = 255;

function writePieces(
  file: string,
  fd: number,
  pieces: Iterable<Uint8Array>,
  onWrite: ((bytes: number) => void) | undefined,
): number {
  let total = 0;
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = () => {
    onWrite?.(total + batched);
    let rest = batch;
    while (rest.length > 0) {
      let n: number;
      try {
        n = writevSync(fd, rest);
      } catch (err) {
        throw environmentError(file, err);
      }
      // Partial writes: drop whole pieces written, cut the first one left.
      while (n > 0 && rest.length > 0 && n >= rest[0]!.length) {
        n -= rest[0]!.length;
        rest = rest.slice(1);
      }
      if (n > 0) rest = [rest[0]!.subarray(n), ...rest.slice(1)];
    }
    total += batched;
    batch = [];
    batched = 0;
  };
  for (const p of pieces) {
    batch.push(p);
    batched += p.length;
    if (batched >= BATCH_BYTES || batch.length >= BATCH_PIECES) flush();
  }
  flush();
  return total;
}

/**
 * The one step that makes `file` the new content: link (never replaces) or a checked rename.
 * Returns whether the temporary name is still there to remove (after a link).
 */
function putInPlace(temp: string, file: string, force: boolean): boolean {
  if (force) {
    checkOutputTarget(file, true);
    renameTo(temp, file);
    return false;
  }
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') {
      checkOutputTarget(file, false); // says what is there now
      throw new OutputRefusedError(file, 'exists', 'already exists (replace it with --force)');
    }
    // A file system without hard links (EPERM there): check once more, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw environmentError(file, err);
  }
  checkOutputTarget(file, false);
  renameTo(temp, file);
  return false;
}

function renameTo(temp: string, file: string): void {
  try {
    renameSync(temp, file);
  } catch (err) {
    throw environmentError(file, err);
  }
}

function removeTemp(temp: string, file: string): void {
  try {
    unlinkSync(temp);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw environmentError(file, err);
  }
}

/** A regular file opened to append to (a log); whoever holds it closes it. */
export type AppendFile = InputFile;

/**
 * Opens `path` to append, creating it (mode 0644 before the umask) if missing, with O_NONBLOCK and
 * O_NOFOLLOW: a FIFO there is refused at once (ENXIO without a reader, fstat with one) instead of
 * blocking, a symlink is not followed, and only a regular file is appended to.
 */
export function openAppendOutput(path: string): AppendFile {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  return openRegularFile(path, flags, 0o644, (rule, detail) => new OutputRefusedError(path, rule, detail));
}
