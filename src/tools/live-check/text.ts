/** The lines `hvkit check --attach` prints: one per violation and event, one verdict per VM. */
import { formatViolation, type Violation } from '../../errors.ts';
import type { EarlierExited, LiveEvent, LiveFinding, LiveReport, VmReport } from './live-checker.ts';

export function processLabel(pid: number, comm: string): string {
  return `pid ${pid} (${comm})`;
}

export function findingLine(f: Pick<LiveFinding, 'pid' | 'comm' | 'subject' | 'violation'>): string {
  return `${processLabel(f.pid, f.comm)}: ${f.subject}: ${formatViolation(f.violation)}`;
}

export function eventLine(e: LiveEvent): string {
  return `${processLabel(e.pid, e.comm)}: ${e.kind}: ${e.text}`;
}

export function verdictLine(vm: VmReport): string {
  const who = processLabel(vm.pid, vm.comm);
  const samples = vm.subjects.reduce((n, s) => Math.max(n, s.samples), 0);
  const exited = !vm.exited ? '' : vm.stillRunning ? ', left the check (no VM any more)' : ', exited during the check';
  if (vm.unchecked !== undefined && vm.errors + vm.warnings === 0)
    return `${who}: NOT CHECKED: ${vm.unchecked}${exited}`;
  const kinds = countKinds(vm);
  const verdict = vm.errors === 0 ? 'valid' : 'INVALID';
  return `${who}: ${kinds}, ${samples} sample(s)${exited}: ${verdict} (${vm.errors} error(s), ${vm.warnings} warning(s))`;
}

function countKinds(vm: VmReport): string {
  const n = (kind: string) => vm.subjects.filter((s) => s.kind === kind).length;
  return `${n('vm-stats')} vm + ${n('vcpu-stats')} vcpu stats fd(s), ${n('stats-table')} table(s), ${n('domain-directory')} directory`;
}

/** Every line of a one-shot report, violations before each VM's verdict. */
export function reportLines(report: LiveReport): { line: string; severity?: Violation['severity'] }[] {
  const out: { line: string; severity?: Violation['severity'] }[] = [];
  for (const vm of report.vms) {
    for (const v of vm.violations) {
      out.push({
        line: findingLine({ pid: vm.pid, comm: vm.comm, subject: v.subject, violation: v }),
        severity: v.severity,
      });
    }
    const notKept = vm.errors + vm.warnings - vm.violations.length;
    if (notKept > 0) out.push({ line: `${processLabel(vm.pid, vm.comm)}: and ${notKept} more violation(s), not kept` });
    out.push({ line: verdictLine(vm) });
  }
  if (report.earlierExited) out.push({ line: earlierExitedLine(report.earlierExited) });
  if (report.vms.length === 0 && !report.earlierExited) out.push({ line: 'no VM found' });
  if (report.skipped.length > 0) out.push({ line: skippedLine(report.skipped) });
  return out;
}

/** The processes that exited before the last ones kept, as counts. */
export function earlierExitedLine(e: EarlierExited): string {
  return `and ${e.processes} earlier process(es) that exited: ${e.errors} error(s), ${e.warnings} warning(s), ${e.unchecked} not checked`;
}

/** One line for every process --all could not look into (many, for a user who is not root). */
export function skippedLine(skipped: LiveReport['skipped']): string {
  const shown = skipped.slice(0, SKIPPED_SHOWN).map((s) => processLabel(s.pid, s.comm ?? '?'));
  const more = skipped.length > SKIPPED_SHOWN ? `, and ${skipped.length - SKIPPED_SHOWN} more` : '';
  return `not inspected, ${skipped.length} process(es) whose fds may not be listed (run as root to check every VMM): ${shown.join(', ')}${more}`;
}

const SKIPPED_SHOWN = 5;
