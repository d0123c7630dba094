/**
 * The one way hvkit opens a file someone handed it to read (a capture, a saved stream, a region
 * under /dev/shm): without blocking and without following a symlink, and only when it is a regular
 * file — decided on the descriptor itself, which the caller then reads through.
 *
 * open(2) of a FIFO blocks until a writer appears, so a FIFO given as a path would freeze a tool,
 * or the whole event loop of a host serving requests. O_NONBLOCK makes that open return at once
 * (it does not change how a regular file reads); O_NOFOLLOW refuses a symlink planted under the
 * name; fstat of the descriptor then refuses FIFOs, devices, directories and sockets before one
 * byte is read. libuv opens every file with O_CLOEXEC already, so no child inherits the
 * descriptor. Checking the path first (stat, then open) would leave a window in which the name
 * is swapped; the descriptor is what gets read, so it is what gets checked.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { EnvironmentError, environmentError, errorCode } from '../errors.ts';

/** Why a file was refused before it was read; subclasses add their own rules (shm-file.ts). */
export type InputFileRule = 'symlink' | 'not-regular-file';

/** A file refused on open: `path` is the name the user gave, `rule` says which check failed. */
export class FileRefusedError<Rule extends string = InputFileRule> extends EnvironmentError {
  override readonly name: string = 'FileRefusedError';
  constructor(
    readonly path: string,
    readonly rule: Rule,
    readonly detail: string,
  ) {
    super(`${path}: ${rule}: ${detail}`);
  }
}

/** An open, checked input: a regular file. Whoever holds it closes it (close is idempotent). */
export interface InputFile {
  /** The path as given (for messages). */
  readonly path: string;
  readonly fd: number;
  /** fstat of the descriptor at open. */
  readonly stat: Stats;
  close(): void;
}

export interface OpenInputOptions {
  /** Open read-write instead (a region its owner hands back to the host); same checks. */
  writable?: boolean;
}

/**
 * Opens `path` with O_NONBLOCK | O_NOFOLLOW and checks on the descriptor that it is a regular
 * file. Throws FileRefusedError ('symlink', 'not-regular-file') or an EnvironmentError naming
 * `path` for any errno (ENOENT, EACCES …).
 */
export function openInput(path: string, options: OpenInputOptions = {}): InputFile {
  const access = options.writable ? constants.O_RDWR : constants.O_RDONLY;
  return openRegularFile(path, access, 0, (rule, detail) => new FileRefusedError(path, rule, detail));
}

/**
 * The shared core of every open of a path someone gave (inputs here, outputs in replace-file.ts):
 * `flags` plus O_NONBLOCK | O_NOFOLLOW, then fstat of the descriptor must show a regular file.
 * `refuse` builds the typed error for a symlink or anything that is not a regular file.
 */
export function openRegularFile(
  path: string,
  flags: number,
  mode: number,
  refuse: (rule: InputFileRule, detail: string) => Error,
): InputFile {
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NONBLOCK | constants.O_NOFOLLOW, mode);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ELOOP') throw refuse('symlink', 'is a symbolic link (not followed)');
    // A unix socket (or a FIFO opened for writing without a reader) cannot be opened: ENXIO.
    if (code === 'ENXIO') throw refuse('not-regular-file', 'is not a regular file');
    if (code === 'EISDIR') throw refuse('not-regular-file', 'is a directory');
    throw environmentError(path, err);
  }
  let stat: Stats;
  try {
    stat = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw environmentError(path, err);
  }
  if (!stat.isFile()) {
    closeSync(fd);
    throw refuse('not-regular-file', `is a ${fileKind(stat)}, not a regular file`);
  }
  let open = true;
  return {
    path,
    fd,
    stat,
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/**
 * Reads from `position` of the descriptor into `dst` until it is full or the file ends; returns
 * the bytes read. Errors name `path`.
 */
export function preadFully(file: Pick<InputFile, 'path' | 'fd'>, dst: Uint8Array, position: number): number {
  let done = 0;
  while (done < dst.length) {
    let n: number;
    try {
      n = readSync(file.fd, dst, done, dst.length - done, position + done);
    } catch (err) {
      throw environmentError(file.path, err);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** What kind of file a Stats describes, for messages ("a FIFO, not a regular file"). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSymbolicLink()) return 'symbolic link';
  return 'special file';
}
