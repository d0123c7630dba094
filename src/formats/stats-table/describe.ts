/**
 * Rows for the dump tool: one per counter of every block, with its metadata, its value scaled
 * for display (src/tools/units.ts) and, for histograms, the buckets and a percentile summary
 * (src/tools/histogram.ts).
 */
import type { StatType, StatUnit } from '../../abi/schema.ts';
import { type HistogramSummary, summarizeHistogram } from '../../tools/histogram.ts';
import { scaleValue } from '../../tools/units.ts';
import type { Scope } from './model.ts';
import type { CounterState, DecodedGroup, DecodedTable, GroupState } from './reader.ts';

export interface StatRow {
  /** 'dom' or 'vcpu[i]'. */
  block: string;
  scope: Scope;
  vcpu?: number;
  group: string;
  counter: string;
  /** The counter's state, or its group's when the group was not read ('inactive', 'absent', 'torn', 'invalid'). */
  state: CounterState | Exclude<GroupState, 'ok'>;
  type?: StatType;
  unit?: StatUnit;
  base?: 'pow10' | 'pow2';
  exponent?: number;
  /** Scalar value (exact). */
  value?: bigint;
  /** Scalar value scaled for display, e.g. "1.5 ms". */
  text?: string;
  /** Histogram buckets (exact) and their summary; percentile bounds are raw (scale with `unit`). */
  buckets?: bigint[];
  histogram?: HistogramSummary;
  doc: string;
}

function groupRows(block: string, vcpu: number | undefined, g: DecodedGroup): StatRow[] {
  return g.counters.map((c) => {
    const stat = c.field.stat;
    const row: StatRow = {
      block,
      scope: g.scope,
      ...(vcpu === undefined ? {} : { vcpu }),
      group: g.name,
      counter: c.name,
      state: g.state === 'ok' || c.state === 'absent' ? c.state : g.state,
      doc: c.field.doc,
      ...(stat ? { type: stat.type, unit: stat.unit, base: stat.base, exponent: stat.exponent } : {}),
    };
    if (row.state !== 'value') return row;
    const scale = {
      unit: stat?.unit ?? 'none',
      base: stat?.base === 'pow2' ? 2 : 10,
      exponent: stat?.exponent ?? 0,
    } as const;
    if (c.value !== undefined) {
      row.value = c.value;
      row.text = scaleValue(c.value, scale).text;
    }
    if (c.buckets) {
      row.buckets = c.buckets;
      const kind = stat?.type === 'linear-hist' ? 'linear' : 'log2';
      row.histogram = summarizeHistogram(kind, c.buckets, stat?.bucketSize ?? 0);
    }
    return row;
  });
}

/** Every counter of the table, in layout order: domain groups, then each vCPU's groups and arch block. */
export function describeTable(table: DecodedTable): StatRow[] {
  const rows = table.dom.groups.flatMap((g) => groupRows('dom', undefined, g));
  for (const block of table.vcpus) {
    const name = `vcpu[${block.index}]`;
    for (const g of block.groups) rows.push(...groupRows(name, block.index, g));
    if (block.arch) rows.push(...groupRows(name, block.index, block.arch));
  }
  return rows;
}
