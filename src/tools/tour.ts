/**
 * `hvkit tour`: a guided tour of what hvkit does today, on real parts only.
 *  1. every ABI checked against all of its frozen revisions;
 *  2. a throwaway VM on the real /dev/kvm runs a tiny guest; its VM and vCPU binary stats
 *     files are captured, checked and dumped;
 *  3. the exits the host saw are published in a stats table under /dev/shm, which is then
 *     checked and dumped live, like any other process could, and removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAbiCheck } from '../abi/check.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../formats/stats-table/index.ts';
import { type CaptureResult, captureKvmStats, formatCaptureResult, kvmUnavailableReason } from '../kvm/index.ts';
import { createShmRegion } from '../shm/shm-file.ts';
import { checkTarget } from './check.ts';
import { dumpTarget } from './dump.ts';
import { type DumpText, dumpToText } from './dump-text.ts';
import { resolveTarget } from './target.ts';

export interface TourOutput {
  section(title: string): void;
  line(text: string): void;
  table(text: DumpText): void;
}

export interface TourOptions {
  vcpus: number;
}

export async function runTour(out: TourOutput, options: TourOptions): Promise<number> {
  out.section('1. ABI schemas: each one against every frozen revision');
  const abi = await runAbiCheck();
  for (const line of abi.lines) out.line(line);

  out.section('2. KVM binary statistics of a real VM');
  const unavailable = kvmUnavailableReason();
  let capture: CaptureResult | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-tour-'));
  try {
    if (unavailable) {
      out.line(`skipped: ${unavailable}`);
    } else {
      capture = captureKvmStats({ outDir: dir, vcpus: options.vcpus });
      for (const line of formatCaptureResult(capture).split('\n')) out.line(line);
      for (const file of capture.files) {
        const report = checkTarget(resolveTarget(file.path, undefined), { intervalMs: 0 });
        out.line(`check ${file.path}: ${report.errors === 0 ? 'valid' : 'INVALID'} (${report.errors} errors)`);
      }
      const vcpu0 = capture.files.find((f) => f.kind === 'vcpu');
      if (vcpu0) out.table(nonZeroRows(dumpToText(dumpTarget(resolveTarget(vcpu0.path, undefined)))));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  out.section('3. The host’s own view, published as a stats table under /dev/shm');
  const name = `hvkit-tour-${process.pid}`;
  const tableAbi = shippedStatsTableAbi();
  const nrVcpus = capture ? capture.runs.length : options.vcpus;
  const layout = StatsTableWriter.plan(tableAbi, { nrVcpus });
  const region = createShmRegion(name, layout.regionSize);
  const removeOnSignal = () => region.close();
  process.once('SIGINT', removeOnSignal);
  try {
    const writer = StatsTableWriter.create(region, tableAbi, { nrVcpus });
    for (const run of capture?.runs ?? []) {
      writer.update(run.vcpu, 'exits', (g) => {
        g.add(g.counter('exits_total'), run.exits);
        g.add(g.counter('io_exits'), run.ioExits);
        g.add(g.counter('hlt_exits'), run.haltExits);
      });
      writer.update(run.vcpu, 'io', (g) => {
        g.add(g.counter('pio_ops'), run.writes);
        g.add(g.counter('pio_bytes'), run.writes);
      });
    }
    if (!capture) out.line('no KVM here: the table is published with zero counters');
    const target = resolveTarget(undefined, name);
    const report = checkTarget(target, { intervalMs: 50 });
    out.line(`check --shm ${name}: ${report.errors === 0 ? 'valid' : 'INVALID'} (${report.errors} errors)`);
    out.table(nonZeroRows(dumpToText(dumpTarget(target))));
  } finally {
    process.removeListener('SIGINT', removeOnSignal);
    region.close();
  }
  out.line(`removed /dev/shm/${name}`);
  return abi.errors === 0 ? 0 : 1;
}

/** Keeps a dump readable in a tour: statistics that are still zero are left out. */
function nonZeroRows(text: DumpText): DumpText {
  const valueCol = text.table.header.length - 1;
  const zero = /^(0( \S+)?|false|no samples|\(inactive\)|\(absent\))$/;
  const rows = text.table.rows.filter((r) => !zero.test(r[valueCol] ?? ''));
  return { ...text, title: `${text.title} (non-zero only)`, table: { ...text.table, rows } };
}
