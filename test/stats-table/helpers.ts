/** Shared helpers of the stats-table tests: crafted regions and readable violation lists. */

import type { Violation } from '../../src/errors.ts';
import { statsTableRevision } from '../../src/formats/stats-table/abi.ts';
import type { PlanOptions, TableLayout } from '../../src/formats/stats-table/layout.ts';
import { type TableModel, tableModel } from '../../src/formats/stats-table/model.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { bytesRegion, createSharedRegion, type Region } from '../../src/shm/region.ts';
import { fillDeterministic } from './fixtures/values.ts';

export interface Crafted {
  bytes: Uint8Array;
  view: DataView;
  layout: TableLayout;
  model: TableModel;
  /** Writes header word `name` (u32 or u64 by its schema type). */
  setHeader(name: keyof TableModel['header'], value: number | bigint): void;
  region(): Region;
}

/** A valid, filled table from producer revision `rev`, as private bytes to corrupt. */
export function craft(rev: number, options: PlanOptions = { nrVcpus: 2, arch: 'x86_64' }): Crafted {
  const abi = statsTableRevision(rev);
  const shared = createSharedRegion(StatsTableWriter.plan(abi, options).regionSize);
  const writer = StatsTableWriter.create(shared, abi, options);
  fillDeterministic(writer);
  const bytes = shared.bytes.slice();
  shared.close();
  const view = new DataView(bytes.buffer);
  const model = tableModel(abi);
  return {
    bytes,
    view,
    layout: writer.layout,
    model,
    setHeader(name, value) {
      const { offset, size } = model.header[name];
      if (size === 4) view.setUint32(offset, Number(value), true);
      else view.setBigUint64(offset, BigInt(value), true);
    },
    region: () => bytesRegion(bytes),
  };
}

/** "field rule" strings, for compact assertions. */
export function rules(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.field} ${v.rule}`);
}
