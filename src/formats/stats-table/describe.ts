/**
 * Rows for the dump tool: one per counter of every block, with its metadata, its value scaled
 * for display (src/stats/units.ts) and, for histograms, the buckets and a percentile summary
 * (src/stats/histogram.ts).
 *
 * Two kinds of rows are not counters: the identity words and the domain's name (group `identity`,
 * one row per field the consumer's revision has; absent when the producer lacks it or has not
 * published it; the name row has text and no value), and the
 * slots of the `ports` group, shown as one row per used slot ("port 0x10", "N accesses").
 */
import type { StatType, StatUnit } from '../../abi/schema.ts';
import { type HistogramSummary, summarizeHistogram } from '../../stats/histogram.ts';
import { scaleValue } from '../../stats/units.ts';
import type { DomainIdentity, VcpuIdentity } from './identity.ts';
import type { Scope } from './model.ts';
import { PORTS_GROUP, UNUSED_PORT } from './ports.ts';
import type { CounterState, DecodedGroup, DecodedTable, GroupState, LazyDecodedTable } from './reader.ts';

/** Group name of the identity rows. */
export const IDENTITY_GROUP = 'identity';

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
  /** Rows of the ports group: the slot and its port number (value = the slot's accesses). */
  slot?: number;
  port?: number;
  doc: string;
}

type IdentityValue = number | bigint | string;
type IdentityRow = { counter: string; doc: string; text: (v: IdentityValue) => string };

const DOM_IDENTITY: [keyof DomainIdentity, IdentityRow][] = [
  ['domid', { counter: 'domid', doc: 'The domain’s id on its host.', text: String }],
  [
    'uniqueId',
    {
      counter: 'unique_id',
      doc: 'Host-unique id of the domain.',
      text: (v) => `0x${v.toString(16).padStart(16, '0')}`,
    },
  ],
  ['ownerPid', { counter: 'owner_pid', doc: 'Process id of the owner.', text: String }],
  [
    'ownerStartTime',
    { counter: 'owner_start_time', doc: 'Start time of the owner process.', text: (v) => `${v} ticks` },
  ],
  ['vmStatsFd', { counter: 'vm_stats_fd', doc: 'KVM stats fd of the VM in the owner.', text: (v) => `fd ${v}` }],
  ['name', { counter: 'name', doc: 'The domain’s name.', text: String }],
];

const VCPU_IDENTITY: [keyof VcpuIdentity, IdentityRow][] = [
  ['kvmStatsFd', { counter: 'kvm_stats_fd', doc: 'KVM stats fd of the vCPU in the owner.', text: (v) => `fd ${v}` }],
  ['hostTid', { counter: 'host_tid', doc: 'Host thread running the vCPU.', text: String }],
];

/** One row per identity word the consumer knows (`names`: the schema names its revision has). */
function identityRows<K extends string>(
  block: string,
  scope: Scope,
  vcpu: number | undefined,
  specs: [K, IdentityRow][],
  values: Partial<Record<K, IdentityValue>>,
  names: ReadonlySet<string>,
): StatRow[] {
  return specs
    .filter(([, spec]) => names.has(spec.counter))
    .map(([key, spec]) => {
      const v = values[key];
      return {
        block,
        scope,
        ...(vcpu === undefined ? {} : { vcpu }),
        group: IDENTITY_GROUP,
        counter: spec.counter,
        state: v === undefined ? 'absent' : 'value',
        ...(v === undefined
          ? {}
          : typeof v === 'string'
            ? { text: spec.text(v) }
            : { value: BigInt(v), text: spec.text(v) }),
        doc: spec.doc,
      };
    });
}

/** The used slots of an ok ports group: "port 0x10" with its accesses. */
function portRows(block: string, vcpu: number, g: DecodedGroup): StatRow[] {
  const rows: StatRow[] = [];
  const byName = new Map(g.counters.map((c) => [c.name, c]));
  for (let i = 0; ; i++) {
    const port = byName.get(`port${i}`);
    const accesses = byName.get(`port${i}_accesses`);
    if (!port || !accesses) break;
    if (port.state !== 'value' || port.value === undefined || port.value === UNUSED_PORT) continue;
    const row: StatRow = {
      block,
      scope: g.scope,
      vcpu,
      group: g.name,
      counter: `port 0x${port.value.toString(16)}`,
      state: accesses.state,
      type: 'cumulative',
      unit: 'none',
      slot: i,
      port: Number(port.value),
      doc: `Accesses to I/O port 0x${port.value.toString(16)} (slot ${i}).`,
    };
    if (accesses.state === 'value' && accesses.value !== undefined) {
      row.value = accesses.value;
      row.text = `${accesses.value} accesses`;
    }
    rows.push(row);
  }
  return rows;
}

function groupRows(block: string, vcpu: number | undefined, g: DecodedGroup): StatRow[] {
  if (g.name === PORTS_GROUP && g.scope === 'vcpu' && g.state === 'ok' && vcpu !== undefined) {
    return portRows(block, vcpu, g);
  }
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

/**
 * Every row of the table, in layout order: the domain's identity and groups, then each vCPU's
 * identity, groups and arch block.
 */
export function describeTable(table: DecodedTable): StatRow[] {
  return Array.from(describeTableRows(table));
}

/** The rows of describeTable one block at a time (hvkit dump writes each out as it comes). */
export function* describeTableRows(table: DecodedTable | LazyDecodedTable): Generator<StatRow> {
  const names = new Set(table.identityWords);
  yield* identityRows('dom', 'dom', undefined, DOM_IDENTITY, table.identity, names);
  for (const g of table.dom.groups) yield* groupRows('dom', undefined, g);
  for (const block of table.vcpus) {
    const name = `vcpu[${block.index}]`;
    yield* identityRows(name, 'vcpu', block.index, VCPU_IDENTITY, block.identity ?? {}, names);
    for (const g of block.groups) yield* groupRows(name, block.index, g);
    if (block.arch) yield* groupRows(name, block.index, block.arch);
  }
}
