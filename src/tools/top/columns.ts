/**
 * Columns of the table: title, width, which side to align, how important they are when the
 * terminal is narrow (lower priority number = kept longer), the text of a cell and the value it
 * sorts by.
 */
import { formatPercent, formatRate, hex64 } from './format.ts';
import { formatPercentile, percentileSortValue } from './percentiles.ts';
import type { DisplayRow, Level } from './rows.ts';
import { sparkline } from './sparkline.ts';

export type ColumnId =
  | 'name'
  | 'pid'
  | 'domid'
  | 'uid'
  | 'vcpus'
  | 'exits'
  | 'spark'
  | 'halt'
  | 'io'
  | 'mmio'
  | 'run'
  | 'p99'
  | 'src';

export interface Column {
  id: ColumnId;
  title: string;
  /** Fixed width; for `name`, the smallest width it may shrink to. */
  width: number;
  align: 'left' | 'right';
  priority: number;
  /** Levels the column appears at. */
  levels: Level[];
  cell(row: DisplayRow, width: number): string;
  sortValue?(row: DisplayRow): number | string | undefined;
}

export const NAME_MIN = 8;
export const NAME_MAX = 32;
export const SPARK_WIDTH = 12;

const both: Level[] = ['vm', 'vcpu'];

function rateColumn(id: 'exits' | 'halt' | 'io' | 'mmio', title: string, priority: number, width = 8): Column {
  return {
    id,
    title,
    width,
    align: 'right',
    priority,
    levels: both,
    cell: (r) => formatRate(r.metrics.rates[id]),
    sortValue: (r) => r.metrics.rates[id],
  };
}

export const COLUMNS: readonly Column[] = [
  {
    id: 'name',
    title: 'NAME',
    width: NAME_MIN,
    align: 'left',
    priority: 0,
    levels: both,
    cell: (r) => r.name,
    sortValue: (r) => r.name,
  },
  {
    id: 'pid',
    title: 'PID',
    width: 7,
    align: 'right',
    priority: 2,
    levels: ['vm'],
    cell: (r) => String(r.vm.pid),
    sortValue: (r) => r.vm.pid,
  },
  {
    id: 'domid',
    title: 'DOM',
    width: 5,
    align: 'right',
    priority: 4,
    levels: ['vm'],
    cell: (r) => (r.vm.domid === undefined ? '-' : String(r.vm.domid)),
    sortValue: (r) => r.vm.domid,
  },
  {
    id: 'uid',
    title: 'UNIQUE ID',
    width: 16,
    align: 'left',
    priority: 10,
    levels: ['vm'],
    cell: (r) => (r.vm.uniqueId === undefined ? '-' : hex64(r.vm.uniqueId)),
  },
  {
    id: 'vcpus',
    title: 'CPUS',
    width: 4,
    align: 'right',
    priority: 9,
    levels: ['vm'],
    cell: (r) => String(r.vm.vcpus.length),
  },
  rateColumn('exits', 'EXITS/s', 1, 9),
  {
    id: 'spark',
    title: 'HISTORY',
    width: SPARK_WIDTH,
    align: 'left',
    priority: 3,
    levels: both,
    cell: (r, width) => sparkline(r.history, width),
  },
  rateColumn('halt', 'HLT/s', 5),
  rateColumn('io', 'IO/s', 6),
  rateColumn('mmio', 'MMIO/s', 8),
  {
    id: 'run',
    title: 'RUN%',
    width: 6,
    align: 'right',
    priority: 11,
    levels: both,
    cell: (r) => formatPercent(r.metrics.rates.run),
    sortValue: (r) => r.metrics.rates.run,
  },
  {
    id: 'p99',
    title: 'LAT p99',
    width: 11,
    align: 'right',
    priority: 7,
    levels: both,
    cell: (r) => (r.metrics.latency ? formatPercentile(r.metrics.latency.p99, r.metrics.latency.unit) : '-'),
    sortValue: (r) =>
      r.metrics.latency ? percentileSortValue(r.metrics.latency.p99, r.metrics.latency.unit) : undefined,
  },
  {
    id: 'src',
    title: 'SOURCE',
    width: 14,
    align: 'left',
    priority: 12,
    levels: ['vm'],
    cell: (r) => (r.vm.sources.length === 0 ? 'none' : r.vm.sources.join('+')),
  },
];

/** Columns one can sort by, in the order `s` cycles through them. */
export const SORT_COLUMNS: readonly ColumnId[] = ['exits', 'halt', 'io', 'mmio', 'run', 'p99', 'name', 'pid', 'domid'];

export function columnById(id: ColumnId): Column {
  return COLUMNS.find((c) => c.id === id)!;
}
