/** The domain/vCPU statistics table (DESIGN §1): public entry points. */
export { currentStatsTableAbi, shippedStatsTableAbi, statsTableRevision } from './abi.ts';
export { type CheckOptions, type CheckResult, checkStatsTable, compareTables } from './checker.ts';
export { describeTable, type StatRow } from './describe.ts';
export { blockOffset, type PlanOptions, planLayout, type TableLayout, validateLayout } from './layout.ts';
export { type GroupModel, type TableModel, tableModel } from './model.ts';
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
