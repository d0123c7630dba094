/**
 * Plain-text rendering of a dump: one aligned table of statistics, histograms summarised by
 * their percentiles with the non-empty buckets listed below them.
 */

import type { KvmStatRow } from '../formats/kvm-stats/index.ts';
import type { StatRow } from '../formats/stats-table/index.ts';
import { uniqueIdHex } from '../shm/region-names.ts';
import { type BucketRange, bucketRange, type HistogramKind, type HistogramSummary } from '../stats/histogram.ts';
import { scaleValue, type UnitScale } from '../stats/units.ts';
import {
  type DirectoryDump,
  type DumpReport,
  type DumpStream,
  dumpAsStream,
  type KvmDumpStream,
  type TableDumpStream,
} from './dump.ts';

export interface TextTable {
  header: string[];
  rows: string[][];
  align: ('left' | 'right')[];
}

export interface DumpText {
  title: string;
  table: TextTable;
  notes: string[];
}

/** A dump's text with its rows produced one at a time (hvkit dump writes each as it comes). */
export interface DumpTextStream {
  title: string;
  table: Omit<TextTable, 'rows'> & { rows: Iterable<string[]> };
  /** The notes below the table: complete once the rows are exhausted. */
  notes(): string[];
}

export function dumpToText(report: DumpReport): DumpText {
  const text = dumpToTextStream(dumpAsStream(report));
  const rows = Array.from(text.table.rows);
  return { title: text.title, table: { ...text.table, rows }, notes: text.notes() };
}

export function dumpToTextStream(report: DumpStream): DumpTextStream {
  if (report.format === 'kvm-stats') return kvmText(report);
  if (report.format === 'domain-directory') return directoryText(report);
  return tableText(report);
}

function directoryText(report: DirectoryDump): DumpTextStream {
  const rows = report.entries.map((e) => [
    String(e.domid),
    e.torn ? '(torn)' : e.state,
    uniqueIdHex(e.uniqueId),
    String(e.generation),
    e.nrVcpus === undefined ? '' : String(e.nrVcpus),
    e.stats ? 'yes' : 'no',
  ]);
  return {
    title: `${report.target}: domain directory of host pid ${report.owner.pid} (start time ${report.owner.startTime}), ${report.entries.length} domid(s) used`,
    table: {
      header: ['DOMID', 'STATE', 'UNIQUE ID', 'GENERATION', 'VCPUS', 'STATS'],
      rows,
      align: ['right', 'left', 'left', 'right', 'right', 'left'],
    },
    notes: () => [],
  };
}

function* kvmRows(stats: Iterable<KvmStatRow>): Generator<string[]> {
  for (const r of stats) {
    yield [r.name, r.type, r.unit, r.histogram ? kvmHistogramSummary(r) : r.value];
    if (r.histogram) {
      for (const b of r.histogram.buckets) if (b.count !== '0') yield ['', '', '', `  ${b.text}  ${b.count}`];
    }
  }
}

function kvmText(report: KvmDumpStream): DumpTextStream {
  const s = report.stats;
  const notes = (): string[] => {
    const omitted = s.itemsOmitted();
    if (omitted === 0) return [];
    return [`${omitted} stat(s) share data items with others: listed without their buckets (summaries are exact)`];
  };
  return {
    title: `${report.target}: KVM binary stats "${s.id}", ${s.statCount} stats, data block ${s.dataSize} bytes`,
    table: {
      header: ['NAME', 'TYPE', 'UNIT', 'VALUE'],
      rows: kvmRows(s.rows),
      align: ['left', 'left', 'left', 'left'],
    },
    notes,
  };
}

function kvmHistogramSummary(r: KvmStatRow): string {
  const h = r.histogram!;
  if (h.total === '0') return 'no samples';
  const parts = [`${h.total} samples`];
  if (h.p50) parts.push(`p50 ${h.p50.text}`);
  if (h.p90) parts.push(`p90 ${h.p90.text}`);
  if (h.p99) parts.push(`p99 ${h.p99.text}`);
  return parts.join('  ');
}

function* tableRows(stats: Iterable<StatRow>): Generator<string[]> {
  for (const r of stats) {
    yield [r.block, r.group, r.counter, r.type ?? '', tableValue(r)];
    if (r.buckets && r.histogram && r.histogram.total > 0n) {
      const kind: HistogramKind = r.type === 'linear-hist' ? 'linear' : 'log2';
      const buckets = r.buckets;
      for (let i = 0; i < buckets.length; i++) {
        const count = buckets[i]!;
        if (count === 0n) continue;
        const range = bucketRange(kind, i, buckets.length, 0n);
        yield ['', '', '', '', `  ${rangeText(range, scaleOf(r))}  ${count}`];
      }
    }
  }
}

function tableText(report: TableDumpStream): DumpTextStream {
  const l = report.layout;
  const notes: string[] = [];
  if (report.unknownActive.length > 0) {
    const list = report.unknownActive.map((u) => `${u.scope} bit ${u.bit}`).join(', ');
    notes.push(`the producer writes groups this reader does not know (${list}): ignored`);
  }
  if (report.tornGroups > 0) notes.push(`${report.tornGroups} group(s) kept changing while read: shown as torn`);
  const consumer = report.consumerRevision === 0 ? 'the working schema' : `revision ${report.consumerRevision}`;
  return {
    title:
      `${report.target}: stats table, producer revision ${l.revision} read with ${consumer}; ` +
      `${l.nrVcpus} vCPUs, vcpu_offs ${l.vcpuOffs}, stride ${l.vcpuStride}, region ${l.regionSize} bytes`,
    table: {
      header: ['BLOCK', 'GROUP', 'COUNTER', 'TYPE', 'VALUE'],
      rows: tableRows(report.rows),
      align: ['left', 'left', 'left', 'left', 'left'],
    },
    notes: () => notes,
  };
}

function scaleOf(r: StatRow): UnitScale {
  return { unit: r.unit ?? 'none', base: r.base === 'pow2' ? 2 : 10, exponent: r.exponent ?? 0 };
}

function rangeText(range: BucketRange, scale: UnitScale): string {
  const lower = scaleValue(range.lower, scale).text;
  return range.upper === null ? `≥ ${lower}` : `[${lower}, ${scaleValue(range.upper, scale).text})`;
}

function tableValue(r: StatRow): string {
  if (r.state !== 'value') return `(${r.state})`;
  if (r.histogram) return tableHistogramSummary(r.histogram, scaleOf(r));
  return r.text ?? '';
}

function tableHistogramSummary(h: HistogramSummary, scale: UnitScale): string {
  if (h.total === 0n) return 'no samples';
  const parts = [`${h.total} samples`];
  for (const [label, p] of [
    ['p50', h.p50],
    ['p90', h.p90],
    ['p99', h.p99],
  ] as const) {
    if (p) parts.push(`${label} ${rangeText(p, scale)}`);
  }
  return parts.join('  ');
}
