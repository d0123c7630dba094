/**
 * What /proc says about a process: its identity (pid + start time, so a reused pid is never taken
 * for the old process), its name and its open files. Every reader returns undefined or an error
 * code instead of throwing when the process vanished or is not ours to look at.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { EnvironmentError, errorCode, isErrno } from '../errors.ts';

/** What reading /proc/PID answers for a process that exited or that we may not look at. */
const GONE = ['ENOENT', 'ESRCH', 'EACCES', 'EPERM'];

export const PROC = '/proc';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks after boot (/proc/PID/stat field 22). */
  startTime: bigint;
  /** The command name (/proc/PID/stat field 2, at most 15 bytes). */
  comm: string;
  /** Process state letter (field 3): R, S, D, Z, … */
  state: string;
}

/** Field 22 of /proc/PID/stat is index 19 after the ")" that ends field 2. */
const START_TIME_AFTER_COMM = 19;

/**
 * Parses /proc/PID/stat text. comm may hold spaces and parentheses, so it ends at the LAST ")".
 * Returns undefined for text that does not have the shape.
 */
export function parseProcStat(pid: number, text: string): ProcessIdentity | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const start = rest[START_TIME_AFTER_COMM];
  if (start === undefined || !/^\d+$/.test(start)) return undefined;
  return { pid, startTime: BigInt(start), comm: text.slice(open + 1, close), state: rest[0] ?? '?' };
}

/** The identity of `pid`, or undefined when it does not exist (any more). */
export function readProcessIdentity(pid: number, proc = PROC): ProcessIdentity | undefined {
  try {
    return parseProcStat(pid, readFileSync(`${proc}/${pid}/stat`, 'latin1'));
  } catch (e) {
    if (isErrno(e, ...GONE)) return undefined;
    throw e;
  }
}

/** The start time of `pid` in clock ticks, or undefined when it is gone. */
export function processStartTime(pid: number, proc = PROC): bigint | undefined {
  return readProcessIdentity(pid, proc)?.startTime;
}

/**
 * The effective uid `pid` runs as: the owner of /proc/PID (undefined when it is gone). A process
 * that made itself non-dumpable (prctl, setuid binaries) shows root as the owner instead.
 */
export function processUid(pid: number, proc = PROC): number | undefined {
  try {
    return statSync(`${proc}/${pid}`).uid;
  } catch (e) {
    if (isErrno(e, ...GONE)) return undefined;
    throw e;
  }
}

/**
 * The command line, NUL-separated arguments split into an array; empty for kernel threads and
 * zombies, undefined when unreadable. Reading it takes the target's mmap lock, so callers read it
 * once per process, not per sample.
 */
export function readCmdline(pid: number, proc = PROC): string[] | undefined {
  try {
    const raw = readFileSync(`${proc}/${pid}/cmdline`, 'utf8');
    const args = raw.split('\0');
    if (args.at(-1) === '') args.pop();
    return args;
  } catch (e) {
    if (isErrno(e, ...GONE)) return undefined;
    throw e;
  }
}

/** Every numeric entry of /proc: the pids of all processes (threads are not listed there). */
export function listPids(proc = PROC): number[] {
  const out: number[] = [];
  for (const name of readdirSync(proc)) {
    if (/^\d+$/.test(name)) out.push(Number(name));
  }
  return out;
}

export interface FdLink {
  fd: number;
  target: string;
}

/** The open files of a process, or why they could not be listed (EACCES, ENOENT when it vanished). */
export type FdListing = { ok: true; fds: FdLink[] } | { ok: false; code: string };

/**
 * Readlink of every /proc/PID/fd entry. An fd closed between readdir and readlink is skipped;
 * `accept` filters targets before they are kept (so non-KVM files cost nothing more).
 */
export function readFdLinks(pid: number, accept: (target: string) => boolean, proc = PROC): FdListing {
  let names: string[];
  try {
    names = readdirSync(`${proc}/${pid}/fd`);
  } catch (err) {
    return { ok: false, code: errorCode(err) ?? 'EIO' };
  }
  const fds: FdLink[] = [];
  for (const name of names) {
    let target: string;
    try {
      target = readlinkSync(`${proc}/${pid}/fd/${name}`);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT') continue; // closed meanwhile
      return { ok: false, code: code ?? 'EIO' };
    }
    if (accept(target)) fds.push({ fd: Number(name), target });
  }
  fds.sort((a, b) => a.fd - b.fd);
  return { ok: true, fds };
}

/** This process's pid and start time: a pid plus its start time names a process across pid reuse. */
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
    if (isErrno(e, 'ESRCH')) return 'dead';
    if (isErrno(e, 'EPERM')) return 'unknown'; // it exists, as another user's
    throw e;
  }
}
