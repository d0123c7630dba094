/** KVM through koffi: the VM/vCPU model, the tiny capture guest, stats fds and `kvm capture`. */

export { errnoName, SyscallError } from '../os/syscall-error.ts';
export { type BuildGuestOptions, buildGuest, type GuestImage } from './build-guest.ts';
export {
  type CapturedFile,
  type CaptureOptions,
  type CaptureResult,
  captureKvmStats,
  DEFAULT_CAPTURE_VCPUS,
  formatCaptureResult,
  MAX_CAPTURE_VCPUS,
  writeStatsFiles,
} from './capture.ts';
export {
  buildCaptureGuest,
  CAPTURE_GUEST_DEFAULT_WRITES,
  CAPTURE_GUEST_LOAD,
  CAPTURE_GUEST_PORT,
  CAPTURE_GUEST_RAM,
  type CaptureGuestRun,
  loadCaptureGuest,
  runCaptureGuest,
} from './capture-guest.ts';
export { KvmError } from './errors.ts';
export { GuestMemory } from './memory.ts';
export { enterRealMode } from './real-mode.ts';
export { type IoAccess, type RunOptions, type RunResult, runUntilHalt } from './run-loop.ts';
export { MAX_STATS_FILE_BYTES, readStatsFile } from './stats-file.ts';
export { statsFdSource } from './stats-source.ts';
export { DEFAULT_KVM_PATH, KvmSystem, kvmUnavailableReason, kvmVendorModule } from './system.ts';
export { Vcpu } from './vcpu.ts';
export { Vm } from './vm.ts';
