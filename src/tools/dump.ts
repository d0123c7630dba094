/**
 * `hvkit dump` as a library: read a file or live region once and describe every statistic —
 * values scaled by their unit, histograms with bucket ranges and percentiles. The result is
 * plain data (bigints as bigints; the CLI's JSON writer keeps them exact); dump-text.ts renders it.
 */
import { type DirectoryEntry, DomainDirectoryReader, shippedDomainDirectoryAbi } from '../formats/domstate/index.ts';
import {
  describeKvmStatRows,
  fdSource,
  type KvmStatRow,
  type KvmStatsDescription,
  KvmStatsReader,
} from '../formats/kvm-stats/index.ts';
import {
  describeTableRows,
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

/**
 * A dump whose long lists come one row at a time, for a caller that writes each row as it comes
 * (hvkit dump): memory stays bounded by one row however many the input describes. The lists
 * can be walked once, and only inside the callback of withDump (the source is open then).
 */
export interface KvmDumpStream {
  target: string;
  format: 'kvm-stats';
  stats: Omit<KvmStatsDescription, 'rows' | 'itemsOmitted'> & {
    /** How many stats the file describes (the rows still to come). */
    statCount: number;
    rows: Iterable<KvmStatRow>;
    /** Stats described without their items: complete once `rows` is exhausted. */
    itemsOmitted(): number;
  };
}

export interface TableDumpStream extends Omit<TableDump, 'rows'> {
  rows: Iterable<StatRow>;
}

export type DumpStream = KvmDumpStream | TableDumpStream | DirectoryDump;

/** Opens the target, hands `use` its dump as a stream, and closes the target when `use` returns. */
export function withDump<T>(target: Target, use: (dump: DumpStream) => T, options: OpenTargetOptions = {}): T {
  const opened = openTarget(target, options);
  try {
    if (opened.format === 'kvm-stats') {
      const reader = KvmStatsReader.open(fdSource(opened.fd));
      const layout = reader.layout;
      const tally = { omitted: 0 };
      return use({
        target: target.label,
        format: 'kvm-stats',
        stats: {
          id: layout.id,
          header: { ...layout.header },
          dataSize: layout.dataSize,
          statCount: layout.descriptors.length,
          rows: describeKvmStatRows(layout, reader.readData(), {}, tally),
          itemsOmitted: () => tally.omitted,
        },
      });
    }
    if (opened.format === 'domain-directory') {
      const reader = DomainDirectoryReader.open(opened.region, shippedDomainDirectoryAbi());
      return use({ target: target.label, format: 'domain-directory', owner: reader.owner, entries: reader.list() });
    }
    const reader = StatsTableReader.open(opened.region, shippedStatsTableAbi());
    // vCPU blocks decoded as the rows are written: a table of 32767 vCPUs holds one at a time.
    const table = reader.decodeLazily(reader.snapshot());
    return use({
      target: target.label,
      format: 'stats-table',
      layout: table.layout,
      consumerRevision: table.consumerRevision,
      rows: describeTableRows(table),
      unknownActive: table.unknownActive,
      ignoredBytes: table.ignoredBytes,
      tornGroups: table.tornCount,
    });
  } finally {
    opened.close();
  }
}

/** The whole dump in memory (for the library, the tour and tests; hvkit dump streams instead). */
export function dumpTarget(target: Target, options: OpenTargetOptions = {}): DumpReport {
  return withDump(target, materializeDump, options);
}

function materializeDump(dump: DumpStream): DumpReport {
  if (dump.format === 'domain-directory') return dump;
  if (dump.format === 'stats-table') return { ...dump, rows: Array.from(dump.rows) };
  const { statCount: _count, rows, itemsOmitted, ...head } = dump.stats;
  const stats: KvmStatsDescription = { ...head, rows: Array.from(rows) };
  if (itemsOmitted() > 0) stats.itemsOmitted = itemsOmitted();
  return { target: dump.target, format: 'kvm-stats', stats };
}

/** An in-memory dump seen as a stream (dump-text.ts renders both the same way). */
export function dumpAsStream(report: DumpReport): DumpStream {
  if (report.format !== 'kvm-stats') return report;
  const s = report.stats;
  return {
    ...report,
    stats: {
      id: s.id,
      header: s.header,
      dataSize: s.dataSize,
      statCount: s.rows.length,
      rows: s.rows,
      itemsOmitted: () => s.itemsOmitted ?? 0,
    },
  };
}
