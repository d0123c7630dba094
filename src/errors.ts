/**
 * Typed errors shared by every reader, checker and tool.
 *
 * A reader that rejects input throws a FormatError naming the field it was
 * reading and the rule that failed; a checker collects Violations instead of
 * throwing so that one run reports every problem at once.
 */

export type Severity = 'error' | 'warning';

/** One broken (or suspicious) rule, as reported by a checker. */
export interface Violation {
  /** Dotted path of the field, e.g. `header.desc_offset` or `desc[3].size`. */
  field: string;
  /** Short kebab-case rule name, stable enough to match in tests and scripts. */
  rule: string;
  /** The offending value, rendered as text (bigint-safe). */
  value?: string;
  severity: Severity;
  /** One human sentence. */
  message: string;
}

/**
 * What went wrong, as the caller must act on it. Every error hvkit raises on purpose is an
 * HvkitError with one of these kinds; the CLI maps kinds to exit codes in one place
 * (src/cli/errors.ts) and anything else is a defect reported as internal.
 *
 * - usage: the command line or a call's arguments are wrong (fix the command).
 * - format: input bytes break a rule of their format (the input is bad, the tool is fine).
 * - environment: the machine, a file, a peer or a resource is not as needed (missing file,
 *   permission, no KVM, a peer that closed or timed out, something closed under us).
 * - refused: the host checked a well-formed request and said no (no such domain, a state that
 *   does not allow the operation): like a failed check, the question was fine, the answer is no.
 * - internal: a broken invariant of hvkit itself.
 */
export type ErrorKind = 'usage' | 'format' | 'environment' | 'refused' | 'internal';

export abstract class HvkitError extends Error {
  abstract readonly kind: ErrorKind;
}

/** Thrown by readers when input breaks a rule they cannot read past. */
export class FormatError extends HvkitError {
  override readonly name = 'FormatError';
  readonly kind = 'format';
  constructor(
    readonly format: string,
    readonly field: string,
    readonly rule: string,
    /** The sentence alone, without format, field, rule and value (message holds them all). */
    readonly sentence: string,
    readonly value?: string,
  ) {
    super(`${format}: ${field}: ${rule}: ${sentence}${value === undefined ? '' : ` (value ${value})`}`);
  }

  toViolation(): Violation {
    return { field: this.field, rule: this.rule, value: this.value, severity: 'error', message: this.sentence };
  }
}

/** A bad command line or call argument (CLI exit code 2). */
export class UsageError extends HvkitError {
  override readonly name: string = 'UsageError';
  readonly kind: ErrorKind = 'usage';
}

/** The machine, a file, a peer or a resource is not as needed (CLI exit code 2). */
export class EnvironmentError extends HvkitError {
  override readonly name: string = 'EnvironmentError';
  readonly kind: ErrorKind = 'environment';
}

/** A broken invariant of hvkit itself: a defect, never the user's fault. */
export class InternalError extends HvkitError {
  override readonly name: string = 'InternalError';
  readonly kind: ErrorKind = 'internal';
}

/**
 * Something was used after it was closed (a region, a VM, a vCPU, a backend, a connection).
 * The one spelling of "closed" in hvkit: `what` names the thing, e.g. "region hvkit-1-…".
 */
export class ClosedError extends EnvironmentError {
  override readonly name: string = 'ClosedError';
  constructor(readonly what: string) {
    super(`${what} is closed`);
  }
}

/** Short descriptions of the errno codes a user meets, without Node's "ENOENT: …, open '…'" noise. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  ELOOP: 'is a symbolic link (not followed)',
  ENXIO: 'no reader or device behind it',
  ENAMETOOLONG: 'name too long',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the peer',
  EPIPE: 'the peer closed the connection',
  ETIMEDOUT: 'timed out',
  EMFILE: 'too many open files',
  ENOMEM: 'out of memory',
  EBUSY: 'busy',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
  EDQUOT: 'disk quota exceeded',
};

/** "no such file or directory" for an error with code ENOENT; the code itself when unknown. */
export function errnoText(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}

/**
 * A system error (Node's fs/net errors carry `code`) as an EnvironmentError that names the
 * thing the user gave (`what`, e.g. the path they typed) rather than internal temporary names.
 * Anything without an errno code is returned unchanged: it is not an environment problem.
 */
export function environmentError(what: string, err: unknown): unknown {
  const code = errorCode(err);
  if (code === undefined || err instanceof HvkitError) return err;
  const wrapped = new EnvironmentError(`${what}: ${errnoText(code)}`);
  (wrapped as { cause?: unknown }).cause = err;
  return wrapped;
}

export function formatViolation(v: Violation): string {
  const value = v.value === undefined ? '' : ` (value ${v.value})`;
  return `${v.severity}: ${v.field}: ${v.rule}: ${v.message}${value}`;
}

/** The error code (ENOENT, EACCES …) of a Node error or a failed system call, when it has one. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** True when `err` is a system error with one of `codes` (e.g. a file that is gone: ENOENT). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errorCode(err);
  return code !== undefined && codes.includes(code);
}

/** The kind of any thrown value: ours say it; a Node system error is the environment; the rest are defects. */
export function kindOf(error: unknown): ErrorKind {
  if (error instanceof HvkitError) return error.kind;
  if (errorCode(error) !== undefined) return 'environment';
  return 'internal';
}

/** One line for a person: our message, a system error as its path and a plain cause, a defect as internal. */
export function describeError(error: unknown): string {
  if (error instanceof HvkitError) {
    return error.kind === 'internal' ? `internal error: ${error.message}` : error.message;
  }
  const code = errorCode(error);
  if (code !== undefined) {
    // Node's text ("ENOENT: no such file or directory, open '/x'") names the code twice and
    // sometimes an internal temporary path; keep the path it names and say the cause plainly.
    const path = (error as { path?: unknown }).path;
    return typeof path === 'string' ? `${path}: ${errnoText(code)}` : errnoText(code);
  }
  if (error instanceof Error) return `internal error: ${error.message}`;
  return `internal error: ${String(error)}`;
}

/** Exit codes the README promises: 0 ok, 1 check failed or refused, 2 usage or environment. */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;

const EXIT_FOR_KIND: Record<ErrorKind, number> = {
  format: EXIT_CHECK_FAILED,
  refused: EXIT_CHECK_FAILED,
  usage: EXIT_USAGE,
  environment: EXIT_USAGE,
  internal: EXIT_USAGE,
};

/** The exit code of any thrown value: the one place kinds become exit codes. */
export function exitCodeFor(error: unknown): number {
  return EXIT_FOR_KIND[kindOf(error)];
}
