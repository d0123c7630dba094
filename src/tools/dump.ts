/**
 * `hvkit dump` as a library: read a file or live region once and describe every statistic —
 * values scaled by their unit, histograms with bucket ranges and percentiles. The result is
 * plain data (bigints as bigints; the CLI's JSON writer keeps them exact); dump-text.ts renders it.
 */
import { type DirectoryEntry, DomainDirectoryReader, shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import { describeKvmStats, fdSource, type KvmStatsDescription, KvmStatsReader } from '../formats/kvm-stats/index.ts';
import {
  describeTable,
  type StatRow,
  StatsTableReader,
  shippedStatsTableAbi,
  type TableLayout,
} from '../formats/stats-table/index.ts';
import { type OpenTargetOptions, openTarget, type Target } from './target.ts';

export interface KvmDump {
  target: string;
  format: 'kvm-stats';
  stats: KvmStatsDescription;
}

export interface TableDump {
  target: string;
  format: 'stats-table';
  /** The producer's layout header, as read. */
  layout: TableLayout;
  /** Revision this reader was built from (0 = working schema). */
  consumerRevision: number;
  rows: StatRow[];
  /** Active groups the producer has and this reader does not know. */
  unknownActive: { scope: 'dom' | 'vcpu'; bit: number }[];
  ignoredBytes: { dom: number; vcpu: number; arch: number };
  tornGroups: number;
}

export interface DirectoryDump {
  target: string;
  format: 'domain-directory';
  owner: { pid: number; startTime: bigint };
  /** Every domid the host has used (state other than none), in domid order. */
  entries: DirectoryEntry[];
}

export type DumpReport = KvmDump | TableDump | DirectoryDump;

export function dumpTarget(target: Target, options: OpenTargetOptions = {}): DumpReport {
  const opened = openTarget(target, options);
  try {
    if (opened.format === 'kvm-stats') {
      const reader = KvmStatsReader.open(fdSource(opened.fd));
      return { target: target.label, format: 'kvm-stats', stats: describeKvmStats(reader.layout, reader.readData()) };
    }
    if (opened.format === 'domain-directory') {
      const reader = DomainDirectoryReader.open(opened.region, shippedDomainDirectoryAbi());
      return { target: target.label, format: 'domain-directory', owner: reader.owner, entries: reader.list() };
    }
    const table = StatsTableReader.open(opened.region, shippedStatsTableAbi()).read();
    return {
      target: target.label,
      format: 'stats-table',
      layout: table.layout,
      consumerRevision: table.consumerRevision,
      rows: describeTable(table),
      unknownActive: table.unknownActive,
      ignoredBytes: table.ignoredBytes,
      tornGroups: table.tornCount,
    };
  } finally {
    opened.close();
  }
}
