/**
 * `hvkit check` as a library: detect the format of a file or live region and run every
 * invariant of that format, taking two samples so that rules across time (counters that go
 * down, metadata that changes) are checked too.
 */
import type { Violation } from '../errors.ts';
import { checkDomainDirectory, shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import { checkKvmStats, fdSource } from '../formats/kvm-stats/index.ts';
import { checkStatsTable, shippedStatsTableAbi } from '../formats/stats-table/index.ts';
import {
  type OpenedRegionTarget,
  type OpenTargetOptions,
  openTarget,
  type StatsFormat,
  type Target,
} from './target.ts';

export interface CheckReport {
  target: string;
  format: StatsFormat;
  violations: Violation[];
  errors: number;
  warnings: number;
}

export interface CheckTargetOptions extends OpenTargetOptions {
  /** Pause between the two samples of a live source, in milliseconds. */
  intervalMs?: number;
}

export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function checkTarget(target: Target, options: CheckTargetOptions = {}): CheckReport {
  const intervalMs = options.intervalMs ?? 100;
  const opened = openTarget(target, options);
  let violations: Violation[];
  try {
    if (opened.format === 'kvm-stats') {
      violations = checkKvmStats(fdSource(opened.fd), {
        samples: 2,
        betweenSamples: () => sleepSync(intervalMs),
      }).violations;
    } else if (opened.format === 'stats-table') {
      violations = checkTable(opened, intervalMs);
    } else {
      violations = checkDirectory(opened, intervalMs);
    }
  } finally {
    opened.close();
  }
  const errors = violations.filter((v) => v.severity === 'error').length;
  return { target: target.label, format: opened.format, violations, errors, warnings: violations.length - errors };
}

function checkTable(opened: OpenedRegionTarget, intervalMs: number): Violation[] {
  const abi = shippedStatsTableAbi();
  const first = checkStatsTable(opened.region, abi);
  if (!opened.live || !first.table) return first.violations;
  // A live region: a second look checks counters and layout across time.
  sleepSync(intervalMs);
  opened.refresh();
  const second = checkStatsTable(opened.region, abi, { previous: first.table });
  return mergeViolations(first.violations, second.violations);
}

function checkDirectory(opened: OpenedRegionTarget, intervalMs: number): Violation[] {
  const abi = shippedDomainDirectoryAbi();
  const first = checkDomainDirectory(opened.region, abi);
  if (!opened.live || !first.entries) return first.violations;
  sleepSync(intervalMs);
  opened.refresh();
  const second = checkDomainDirectory(opened.region, abi, { previous: first });
  return mergeViolations(first.violations, second.violations);
}

/** The first look's violations, then what only the second look found. */
function mergeViolations(first: Violation[], second: Violation[]): Violation[] {
  const seen = new Set(first.map((v) => `${v.field} ${v.rule}`));
  return [...first, ...second.filter((v) => !seen.has(`${v.field} ${v.rule}`))];
}
