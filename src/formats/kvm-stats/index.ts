/** KVM binary statistics (KVM_GET_STATS_FD): reader, checker and description. */
export * from './checker.ts';
export * from './constants.ts';
export { DataIndex, type RangeSummary, type WorkMeter } from './data-index.ts';
export * from './describe.ts';
export { decodeHeader, type Finding, type Inspection, inspectMetadata } from './inspect.ts';
export * from './reader.ts';
export * from './source.ts';
export type * from './types.ts';
