/**
 * Log mode: CSV with one header line and then one row per VM (and per vCPU with `vcpus`) per
 * sample. Fields are quoted when they hold a comma, quote, CR, LF or edge spaces (RFC 4180), and
 * u64 values are written exactly.
 */

import { formatDecimal } from './format.ts';
import type { Frame } from './frame.ts';
import type { MetricValues } from './metrics.ts';
import { percentileSortValue } from './percentiles.ts';
import type { DisplayRow } from './rows.ts';

export const CSV_COLUMNS = [
  'timestamp',
  'interval_ms',
  'level',
  'key',
  'name',
  'pid',
  'owner',
  'domid',
  'unique_id',
  'vcpu',
  'sources',
  'exits_total',
  'exits_per_s',
  'hlt_per_s',
  'io_per_s',
  'mmio_per_s',
  'run_pct',
  'lat_p99_upper',
] as const;

export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

function metricFields(m: MetricValues): string[] {
  return [
    m.exitsTotal === undefined ? '' : m.exitsTotal.toString(),
    formatDecimal(m.rates.exits),
    formatDecimal(m.rates.halt),
    formatDecimal(m.rates.io),
    formatDecimal(m.rates.mmio),
    formatDecimal(m.rates.run),
    m.latency ? formatDecimal(percentileSortValue(m.latency.p99, m.latency.unit)) : '',
  ];
}

function rowFields(frame: Frame, row: DisplayRow, level: 'vm' | 'vcpu'): string[] {
  const vm = row.vm;
  return [
    new Date(frame.wallMs).toISOString(),
    frame.deltas.intervalNs === 0n ? '' : formatDecimal(Number(frame.deltas.intervalNs) / 1e6),
    level,
    vm.key,
    vm.name,
    String(vm.pid),
    vm.owner,
    vm.domid === undefined ? '' : String(vm.domid),
    vm.uniqueId === undefined ? '' : vm.uniqueId.toString(),
    row.vcpu === undefined ? '' : String(row.vcpu),
    vm.sources.join('+'),
    ...metricFields(row.metrics),
  ];
}

/** Writes the header before the first rows, never again. */
export class CsvLog {
  private headerWritten: boolean;

  constructor(
    private readonly write: (text: string) => void,
    options: { headerAlreadyWritten?: boolean } = {},
  ) {
    this.headerWritten = options.headerAlreadyWritten ?? false;
  }

  /** `rows`: the VM rows to log, in order; with `vcpus`, each VM is followed by its vCPUs. */
  frame(frame: Frame, rows: readonly DisplayRow[], vcpus: boolean): void {
    let text = '';
    if (!this.headerWritten) {
      text += csvLine(CSV_COLUMNS);
      this.headerWritten = true;
    }
    for (const row of rows) {
      text += csvLine(rowFields(frame, row, 'vm'));
      if (!vcpus) continue;
      const vmRow = frame.vms.find((v) => v.vm.key === row.vmKey);
      for (const v of vmRow?.vcpus ?? []) {
        text += csvLine(
          rowFields(
            frame,
            { ...row, key: `${row.vmKey}/${v.index}`, vcpu: v.index, metrics: v.metrics, history: v.history },
            'vcpu',
          ),
        );
      }
    }
    if (text) this.write(text);
  }
}
