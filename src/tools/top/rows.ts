/**
 * What one line of the table shows, at either level: the VMs of the host, or the vCPUs of one VM.
 */

import type { VmSample } from '../../attach/sample.ts';
import type { Frame, VcpuRow, VmRow } from './frame.ts';
import type { MetricValues } from './metrics.ts';

export type Level = 'vm' | 'vcpu';

export interface DisplayRow {
  /** The VM key at VM level, `<vm key>/<vcpu>` at vCPU level. */
  key: string;
  vmKey: string;
  vcpu?: number;
  name: string;
  vm: VmSample;
  metrics: MetricValues;
  history: number[];
}

export function vmDisplayRow(row: VmRow): DisplayRow {
  return {
    key: row.vm.key,
    vmKey: row.vm.key,
    name: row.vm.name,
    vm: row.vm,
    metrics: row.metrics,
    history: row.history,
  };
}

export function vcpuDisplayRow(parent: VmRow, row: VcpuRow): DisplayRow {
  return {
    key: `${parent.vm.key}/${row.index}`,
    vmKey: parent.vm.key,
    vcpu: row.index,
    name: `vcpu ${row.index}`,
    vm: parent.vm,
    metrics: row.metrics,
    history: row.history,
  };
}

export function findVm(frame: Frame, vmKey: string | undefined): VmRow | undefined {
  return vmKey === undefined ? undefined : frame.vms.find((v) => v.vm.key === vmKey);
}
