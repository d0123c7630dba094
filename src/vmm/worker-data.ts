/** What the host thread hands a vCPU worker (structured-clonable). */
import type { DeviceState, SimCpuState } from '../formats/stream/image.ts';
import type { RunArea } from '../kvm/vcpu.ts';
import type { GuestProgram } from './guests.ts';
import type { StatsArea } from './stats-mapping.ts';

export interface VcpuWorkerData {
  vcpu: number;
  program: GuestProgram;
  /** Rounds the guest runs before it reports DONE (0 = forever). */
  rounds: number;
  /** /dev/shm name of the domain's stats table, created by the host. */
  statsRegion: string;
  /** Where the host thread mapped that table: the worker borrows the mapping (stats-mapping.ts). */
  statsArea: StatsArea;
  /** Stats-table revision the host created the table from. */
  statsRevision: number;
  /** The domain's control block (control.ts). */
  control: SharedArrayBuffer;
  /** The domain's hypercall mailboxes (call-mailbox.ts). */
  mailbox: SharedArrayBuffer;
  /** The program's configuration word (EDX at entry). */
  arg: number;
  /** Simulated backend only: guest memory, shared with the host thread. */
  simMemory?: SharedArrayBuffer;
  /** The domain's snapshot slots (snapshot-slot.ts): paused vCPUs leave their state there. */
  snapshot?: SharedArrayBuffer;
  /**
   * A restored vCPU: its run state and device model, and for the simulated backend its guest
   * state (a KVM vCPU's registers are set by the host thread before the worker starts).
   */
  restore?: { parked: boolean; devices: DeviceState; sim?: SimCpuState };
  /** KVM backend only: the vCPU, its kvm_run mapping (both owned by the host thread's Vm) and its stats fd. */
  kvm?: { vcpuFd: number; run: RunArea; statsFd: number };
}
