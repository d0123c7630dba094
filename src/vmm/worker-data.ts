/** What the host thread hands a vCPU worker (structured-clonable). */
import type { GuestProgram } from './guests.ts';

export interface VcpuWorkerData {
  vcpu: number;
  program: GuestProgram;
  /** Rounds the guest runs before it reports DONE (0 = forever). */
  rounds: number;
  /** /dev/shm name of the domain's stats table, created by the host. */
  statsRegion: string;
  /** Stats-table revision the host created the table from. */
  statsRevision: number;
  /** The domain's control block (control.ts). */
  control: SharedArrayBuffer;
  /** KVM backend only: the vCPU (owned by the host thread's Vm) and its stats fd. */
  kvm?: { vcpuFd: number; runSize: number; statsFd: number };
}
