/**
 * `hvkit check` as a library: detect the format of a file or live region and run every
 * invariant of that format, taking two samples so that rules across time (counters that go
 * down, metadata that changes) are checked too.
 */
import { closeSync, readSync } from 'node:fs';
import { FormatError, type Violation } from '../errors.ts';
import { checkDomainDirectory, shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import { checkKvmStats, fdSource } from '../formats/kvm-stats/index.ts';
import { checkStatsTable, shippedStatsTableAbi } from '../formats/stats-table/index.ts';
import { bytesRegion, type Region } from '../shm/region.ts';
import { openShmRegion } from '../shm/shm-file.ts';
import { openTarget, type StatsFormat, type Target } from './target.ts';

export interface CheckReport {
  target: string;
  format: StatsFormat;
  violations: Violation[];
  errors: number;
  warnings: number;
}

export interface CheckTargetOptions {
  /** Pause between the two samples of a live source, in milliseconds. */
  intervalMs?: number;
}

/** Largest saved table read into memory for checking; live regions are mapped instead. */
const MAX_TABLE_FILE = 1 << 30;

export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function checkTarget(target: Target, options: CheckTargetOptions = {}): CheckReport {
  const intervalMs = options.intervalMs ?? 100;
  const opened = openTarget(target);
  let violations: Violation[];
  try {
    if (opened.format === 'kvm-stats') {
      violations = checkKvmStats(fdSource(opened.fd), {
        samples: 2,
        betweenSamples: () => sleepSync(intervalMs),
      }).violations;
    } else if (opened.format === 'stats-table') {
      violations = checkTable(target, opened.fd, opened.size, intervalMs);
    } else {
      violations = checkDirectory(target, opened.fd, opened.size, intervalMs);
    }
  } finally {
    closeSync(opened.fd);
  }
  const errors = violations.filter((v) => v.severity === 'error').length;
  return { target: target.label, format: opened.format, violations, errors, warnings: violations.length - errors };
}

function checkTable(target: Target, fd: number, size: number, intervalMs: number): Violation[] {
  const abi = shippedStatsTableAbi();
  const region = openRegion(target, fd, size);
  try {
    const first = checkStatsTable(region, abi);
    if (target.shmName === undefined || !first.table) return first.violations;
    // A live region: a second look checks counters and layout across time.
    sleepSync(intervalMs);
    const second = checkStatsTable(region, abi, { previous: first.table });
    return mergeViolations(first.violations, second.violations);
  } finally {
    region.close();
  }
}

function checkDirectory(target: Target, fd: number, size: number, intervalMs: number): Violation[] {
  const abi = shippedDomainDirectoryAbi();
  const region = openRegion(target, fd, size);
  try {
    const first = checkDomainDirectory(region, abi);
    if (target.shmName === undefined || !first.entries) return first.violations;
    sleepSync(intervalMs);
    const second = checkDomainDirectory(region, abi, { previous: first });
    return mergeViolations(first.violations, second.violations);
  } finally {
    region.close();
  }
}

/** A live region is mapped (read-only); a saved file is read into memory. */
export function openRegion(target: Target, fd: number, size: number): Region {
  return target.shmName === undefined ? readTableFile(fd, size) : openShmRegion(target.shmName);
}

/** The first look's violations, then what only the second look found. */
function mergeViolations(first: Violation[], second: Violation[]): Violation[] {
  const seen = new Set(first.map((v) => `${v.field} ${v.rule}`));
  return [...first, ...second.filter((v) => !seen.has(`${v.field} ${v.rule}`))];
}

export function readTableFile(fd: number, size: number): Region {
  if (size > MAX_TABLE_FILE) {
    throw new FormatError(
      'stats-table',
      'region',
      'region-too-large',
      `files over ${MAX_TABLE_FILE} bytes are refused`,
      String(size),
    );
  }
  const bytes = new Uint8Array(size);
  let done = 0;
  while (done < size) {
    const n = readSync(fd, bytes, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return bytesRegion(bytes.subarray(0, done));
}
