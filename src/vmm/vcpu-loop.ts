/**
 * The VMM run loop of one vCPU, shared by the KVM and the simulated backends: it obeys the host's
 * commands (run, pause, stop), enters the CPU, handles each exit in TypeScript — port I/O through
 * the device model, HLT as a sleep of the halt period on the command word (so pause and stop
 * wake it at once), shutdown and errors as a `crashed` event with registers — and writes the
 * vCPU's statistics.
 */
import type { DomainEvent } from '../host/backend.ts';
import { CMD, STATE, type VcpuControl } from './control.ts';
import { type CpuCore, EXIT } from './cpu-core.ts';
import { PortDevices } from './devices.ts';
import { REPORT, reportName } from './guest-abi.ts';
import type { VcpuStats } from './vcpu-stats.ts';

const nowNs = (): number => performance.now() * 1e6;
/** Whole nanoseconds between two readings (counters take integers). */
const elapsed = (from: number, to: number): number => (to > from ? Math.round(to - from) : 0);

export interface LoopContext {
  vcpu: number;
  core: CpuCore;
  control: VcpuControl;
  stats: VcpuStats;
  emit: (event: DomainEvent) => void;
}

/** Runs until the host sends STOP. Never throws for guest behaviour; a VMM bug propagates. */
export function runVcpuLoop({ vcpu, core, control, stats, emit }: LoopContext): void {
  const devices = new PortDevices();
  const io = core.io;
  /** Crashed or finished: the vCPU stays out of the guest until STOP. */
  let parked = false;
  for (;;) {
    const cmd = control.command;
    if (cmd === CMD.STOP) break;
    if (cmd !== CMD.RUN || parked) {
      control.report(parked ? STATE.PARKED : STATE.PAUSED);
      control.waitWhile(cmd);
      continue;
    }
    control.report(STATE.RUNNING);
    const t0 = nowNs();
    const kind = core.run();
    const t1 = nowNs();
    let reports = 0;
    let haltNs = 0;
    if (kind === EXIT.IO) {
      stats.exit('io_exits');
      const { port, size, count } = io;
      if (io.direction === 1) {
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
