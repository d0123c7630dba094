/** Process identity from /proc: a pid plus its start time names a process across pid reuse. */
import { EnvironmentError } from '../errors.ts';
import { processStartTime } from '../os/procfs.ts';

export { processStartTime };

/** This process's pid and start time. */
export function selfIdentity(): { pid: number; startTime: bigint } {
  const startTime = processStartTime(process.pid);
  if (startTime === undefined) throw new EnvironmentError('cannot read this process’s start time from /proc/self');
  return { pid: process.pid, startTime };
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether the process (pid, start time) still runs: `dead` when the pid is gone or now names a
 * process started at another time; `unknown` when /proc does not say (hidepid), treated as alive.
 */
export function processLiveness(pid: number, startTime: bigint): Liveness {
  const now = processStartTime(pid);
  if (now !== undefined) return now === startTime ? 'alive' : 'dead';
  try {
    process.kill(pid, 0);
    return 'unknown'; // it exists but its stat is hidden from us
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH' ? 'dead' : 'unknown';
  }
}
