/**
 * The VMM run loop of one vCPU, shared by the KVM and the simulated backends: it obeys the host's
 * commands (run, pause, stop), enters the CPU, handles each exit in TypeScript — port I/O through
 * the device model, HLT as a sleep of the halt period on the command word (so pause and stop
 * wake it at once), shutdown and errors as a `crashed` event with registers — and writes the
 * vCPU's statistics.
 */

import { UsageError } from '../errors.ts';
import type { DeviceState } from '../formats/stream/image.ts';
import type { DomainEvent } from './backend.ts';
import type { MailboxClient } from './call-mailbox.ts';
import { CMD, STATE, type VcpuControl } from './control.ts';
import { type CpuCore, EXIT } from './cpu-core.ts';
import { PortDevices } from './devices.ts';
import { PORT, REPORT, reportName } from './guest-abi.ts';
import type { SnapshotSlot } from './snapshot-slot.ts';
import type { VcpuStats } from './vcpu-stats.ts';

const nowNs = (): number => performance.now() * 1e6;
/** Whole nanoseconds between two readings (counters take integers). */
const elapsed = (from: number, to: number): number => (to > from ? Math.round(to - from) : 0);

export interface LoopContext {
  vcpu: number;
  core: CpuCore;
  control: VcpuControl;
  stats: VcpuStats;
  /** This vCPU's side of the hypercall mailbox (call-mailbox.ts). */
  calls: MailboxClient;
  emit: (event: DomainEvent) => void;
  /** Save/restore: where the vCPU leaves its state when it stops for a pause, and where it starts from. */
  snapshot?: LoopSnapshot;
}

export interface LoopSnapshot {
  slot: SnapshotSlot;
  /** A restored vCPU's device model and run state. */
  initial?: { parked: boolean; devices: DeviceState };
}

/** Settles and captures the CPU with its device model into the slot (the host reads it once paused). */
function publishState(vcpu: number, core: CpuCore, devices: PortDevices, parked: boolean, slot: SnapshotSlot): void {
  try {
    if (!core.capture) throw new UsageError('this CPU cannot be captured');
    core.settle?.();
    slot.write({ state: { vcpu, parked, devices: devices.capture(), cpu: core.capture() } });
  } catch (err) {
    slot.write({ error: err instanceof Error ? err.message : String(err) });
  }
}

/** Runs until the host sends STOP. Never throws for guest behaviour; a VMM bug propagates. */
export function runVcpuLoop({ vcpu, core, control, stats, calls, emit, snapshot }: LoopContext): void {
  const devices = new PortDevices();
  /** EAX, EBX, ECX, EDX, ESI, EDI of the hypercall being made (reused: no allocation per call). */
  const callRegs = new Uint32Array(6);
  const io = core.io;
  /** Crashed or finished: the vCPU stays out of the guest until STOP. */
  let parked = snapshot?.initial?.parked ?? false;
  if (snapshot?.initial) devices.restore(snapshot.initial.devices);
  /** The CPU ran since its state was last published (a fresh or restored vCPU publishes once too). */
  let unpublished = snapshot !== undefined;
  for (;;) {
    const cmd = control.command;
    if (cmd === CMD.STOP) break;
    if (cmd !== CMD.RUN || parked) {
      if (unpublished && snapshot) {
        publishState(vcpu, core, devices, parked, snapshot.slot);
        unpublished = false;
      }
      control.report(parked ? STATE.PARKED : STATE.PAUSED);
      control.waitWhile(cmd);
      continue;
    }
    control.report(STATE.RUNNING);
    const t0 = nowNs();
    const kind = core.run();
    unpublished = snapshot !== undefined;
    const t1 = nowNs();
    let reports = 0;
    let haltNs = 0;
    if (kind === EXIT.IO) {
      stats.exit('io_exits');
      const { port, size, count } = io;
      if (port === PORT.HYPERCALL && io.direction === 1 && size === 4 && count === 1) {
        // The host's dispatcher answers on the host thread; a STOP while waiting abandons the
        // call (the guest never resumes), and the loop ends at its next look at the command.
        core.readCallRegisters(callRegs);
        if (calls.call(callRegs)) core.completeCall(callRegs);
        stats.hypercall();
      } else if (io.direction === 1) {
        for (let i = 0; i < count; i++) {
          if (!devices.out(port, core.ioValue(i))) continue;
          reports++;
          const code = devices.reportCode;
          emit({ kind: 'report', vcpu, code, value: BigInt(devices.reportValue) });
          if (code === REPORT.DONE) {
            parked = true;
            emit({
              kind: 'guest-shutdown',
              vcpu,
              reason: `guest finished (${reportName(code)} after ${devices.reportValue} rounds)`,
            });
          }
        }
      } else {
        for (let i = 0; i < count; i++) core.setIoValue(i, devices.in(port, size));
      }
      stats.portIo(port, size, count, elapsed(t1, nowNs()));
    } else if (kind === EXIT.HLT) {
      stats.exit('hlt_exits');
      const start = nowNs();
      control.waitWhile(CMD.RUN, devices.haltPeriodUs / 1000);
      haltNs = elapsed(start, nowNs());
      stats.halted(haltNs);
    } else if (kind === EXIT.INTERRUPTED) {
      stats.exit('signal_exits');
    } else {
      stats.exit(kind === EXIT.SHUTDOWN ? 'shutdown_exits' : kind === EXIT.MMIO ? 'mmio_exits' : 'error_exits');
      parked = true;
      emit({ kind: 'crashed', vcpu, reason: core.describeExit(kind), registers: core.registers() });
    }
    stats.timing(elapsed(t0, t1), Math.max(0, elapsed(t1, nowNs()) - haltNs), reports);
  }
  control.report(STATE.STOPPED);
}
