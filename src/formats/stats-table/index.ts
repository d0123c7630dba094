/** The domain/vCPU statistics table (DESIGN §1): public entry points. */
export {
  currentStatsTableAbi,
  frozenStatsTableRevisions,
  shippedStatsTableAbi,
  statsTableRevision,
} from './abi.ts';
export { type CheckOptions, type CheckResult, checkStatsTable, compareTables } from './checker.ts';
export { describeTable, describeTableRows, IDENTITY_GROUP, type StatRow } from './describe.ts';
export type { DomainIdentity, DomainIdentityInput, VcpuIdentity, VcpuIdentityInput } from './identity.ts';
export { blockOffset, type PlanOptions, planLayout, type TableLayout, validateLayout } from './layout.ts';
export { counterId, type FieldId, type GroupModel, sameFieldId, type TableModel, tableModel } from './model.ts';
export { PortCounter } from './port-counter.ts';
export { MAX_PORT, PORTS_GROUP, portSlots, UNUSED_PORT } from './ports.ts';
export { type ProducerView, producerView } from './producer.ts';
export {
  type CounterState,
  type DecodedBlock,
  type DecodedCounter,
  type DecodedGroup,
  type DecodedTable,
  type GroupState,
  type ReaderOptions,
  StatsTableReader,
  type TableSnapshot,
} from './reader.ts';
export { GroupWriter, StatsTableWriter } from './writer.ts';
