/** Discovering every KVM VM on the host, attaching to its statistics and sampling them (DESIGN §2): one session for every observer. */

export {
  type FdLink,
  type FdListing,
  listPids,
  type ProcessIdentity,
  parseProcStat,
  processStartTime,
  readCmdline,
  readFdLinks,
  readProcessIdentity,
} from '../os/procfs.ts';
export {
  DEBUGFS_KVM,
  type DebugfsStat,
  DebugfsVm,
  type DebugfsVmOptions,
  debugfsUnavailableReason,
} from './debugfs.ts';
export {
  classifyKvmFds,
  type DiscoverOptions,
  type DiscoveryResult,
  discoverKvmProcesses,
  type KvmFd,
  type KvmFdKind,
  type KvmProcess,
  parseKvmFdTarget,
  type SkippedProcess,
} from './discover.ts';
export { type AttachResult, KvmStatsHandle } from './kvm-stats-handle.ts';
export { LifecycleTracker, type TrackedVm } from './lifecycle.ts';
export { type DupResult, dupFailureText, exitedProcesses, ProcessHandle } from './pidfd.ts';
export { hvkitMatchKey, type Plan, type PlanInput, type PlannedTable, planVms, type VmPlan } from './plan.ts';
export type {
  HostSample,
  LifecycleEvent,
  LifecycleKind,
  SampleSource,
  StatSample,
  StatsSourceKind,
  VcpuSample,
  VmOwner,
  VmSample,
} from './sample.ts';
export { AttachSession, type AttachSessionOptions, guestName, type ScanStatus } from './session.ts';
export { debugfsStatSample, kvmStatSamples, tableStatSamples } from './stat-samples.ts';
export { errorCode, exitedPidfds, sameFile } from './sys.ts';
export { type DomainIdentity, type TableIdentity, tableIdentity, type VcpuIdentity } from './table-identity.ts';
export { HvkitTable, listTableNames, parseTableName, type TableName, tableName } from './tables.ts';
export { VmKeyAllocator } from './vm-keys.ts';
