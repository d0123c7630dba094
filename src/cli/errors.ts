/**
 * Maps anything a command throws to an exit code and one line on stderr — never a stack trace
 * (set HVKIT_DEBUG=1 to see one). Exit codes: 0 ok, 1 check failed, 2 usage or environment error.
 */
import { FormatError, UsageError } from '../errors.ts';
import { KvmError, SyscallError } from '../kvm/errors.ts';

export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(error: unknown): number {
  if (error instanceof FormatError) return EXIT_CHECK_FAILED;
  return EXIT_USAGE;
}

export function describeError(error: unknown): string {
  if (error instanceof FormatError || error instanceof UsageError) return error.message;
  if (error instanceof KvmError || error instanceof SyscallError) return error.message;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof Error && errno) return `${error.message}`;
  if (error instanceof Error) return `unexpected error: ${error.message}`;
  return `unexpected error: ${String(error)}`;
}

export function reportError(error: unknown): number {
  process.stderr.write(`hvkit: ${describeError(error)}\n`);
  if (process.env.HVKIT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodeFor(error);
}
