/** Process identity from /proc: a pid plus its start time names a process across pid reuse. */
import { readFileSync } from 'node:fs';

/**
 * The start time of process `pid` in clock ticks after boot (field 22 of /proc/<pid>/stat), or
 * undefined when the process does not exist (or its stat cannot be read). The command name
 * (field 2) may contain spaces and parentheses, so fields are counted from its last ')'.
 */
export function processStartTime(pid: number): bigint | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") " come fields 3, 4, …: field 22 is index 19.
  const field = text
    .slice(close + 2)
    .split(' ')
    .at(19);
  return field !== undefined && /^[0-9]+$/.test(field) ? BigInt(field) : undefined;
}

/** This process's pid and start time. */
export function selfIdentity(): { pid: number; startTime: bigint } {
  const startTime = processStartTime(process.pid);
  if (startTime === undefined) throw new Error('cannot read this process’s start time from /proc/self');
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
