/**
 * Maps anything a command throws to an exit code and one line on stderr — never a stack trace
 * (set HVKIT_DEBUG=1 to see one). Exit codes: 0 ok, 1 check failed, 2 usage or environment error.
 * This is the one place where error kinds become exit codes.
 */
import { type ErrorKind, errnoText, errorCode, HvkitError } from '../errors.ts';

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

/** The kind of any thrown value: ours say it; a Node system error is the environment; the rest are defects. */
export function kindOf(error: unknown): ErrorKind {
  if (error instanceof HvkitError) return error.kind;
  if (errorCode(error) !== undefined) return 'environment';
  return 'internal';
}

export function exitCodeFor(error: unknown): number {
  return EXIT_FOR_KIND[kindOf(error)];
}

export function describeError(error: unknown): string {
  if (error instanceof HvkitError) {
    return error.kind === 'internal' ? `internal error: ${error.message}` : error.message;
  }
  const code = errorCode(error);
  if (code !== undefined) {
    // Node's text ("ENOENT: no such file or directory, open '/x'") names the code twice and
    // sometimes an internal temporary path; keep the path it names and say the cause plainly.
    const path = (error as NodeJS.ErrnoException).path;
    return path ? `${path}: ${errnoText(code)}` : errnoText(code);
  }
  if (error instanceof Error) return `internal error: ${error.message}`;
  return `internal error: ${String(error)}`;
}

export function reportError(error: unknown): number {
  process.stderr.write(`hvkit: ${describeError(error)}\n`);
  if (process.env.HVKIT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodeFor(error);
}
