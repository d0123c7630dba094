/**
 * Maps anything a command throws to an exit code and one line on stderr — never a stack trace
 * (set HVKIT_DEBUG=1 to see one). Exit codes: 0 ok, 1 check failed, 2 usage or environment error.
 * This is the one place where error kinds become exit codes.
 */
import { describeError, type ErrorKind, kindOf } from '../errors.ts';

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

export function exitCodeFor(error: unknown): number {
  return EXIT_FOR_KIND[kindOf(error)];
}

export function reportError(error: unknown): number {
  process.stderr.write(`hvkit: ${describeError(error)}\n`);
  if (process.env.HVKIT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodeFor(error);
}
