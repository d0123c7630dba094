/**
 * Maps anything a command throws to an exit code and one line on stderr — never a stack trace
 * (set HVKIT_DEBUG=1 to see one). Exit codes: 0 ok, 1 check failed, 2 usage or environment error.
 * The kinds become exit codes in src/errors.ts (exitCodeFor), the one place that decides them.
 */
import { describeError, EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, exitCodeFor } from '../errors.ts';
import { OutputClosedError } from './stream-out.ts';

export { EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, exitCodeFor };

export function reportError(error: unknown): number {
  if (error instanceof OutputClosedError) return EXIT_OK; // `… | head` stopped reading: nothing to say
  process.stderr.write(`hvkit: ${describeError(error)}\n`);
  if (process.env.HVKIT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodeFor(error);
}
