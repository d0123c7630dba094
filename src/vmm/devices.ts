/**
 * The VMM's port I/O device model for one vCPU (see guest-abi.ts for the protocol): the report
 * latch, the halt period register and the device ports with their deterministic IN values.
 * Unassigned ports behave like an empty bus: OUTs are dropped, INs read all ones.
 */

import type { DeviceState } from '../formats/stream/image.ts';
import {
  DEFAULT_HALT_PERIOD_US,
  DEVICE_PORTS,
  deviceInValue,
  isDevicePort,
  MAX_HALT_PERIOD_US,
  PORT,
} from './guest-abi.ts';

export class PortDevices {
  /** Value latched by the last write to REPORT_VALUE. */
  #latch = 0;
  /** Last value written to each device port (zero-extended). */
  readonly #lastWritten = new Uint32Array(DEVICE_PORTS);
  /** How long the VMM keeps the vCPU halted after a HLT, in microseconds. */
  haltPeriodUs = DEFAULT_HALT_PERIOD_US;
  /** Set by an OUT to REPORT_CODE: the report to deliver (code, value). */
  reportCode = 0;
  reportValue = 0;

  /** Handles one OUT access; returns true when it completed a report (reportCode/reportValue). */
  out(port: number, value: number): boolean {
    if (port === PORT.REPORT_CODE) {
      this.reportCode = value >>> 0;
      this.reportValue = this.#latch;
      this.#latch = 0;
      return true;
    }
    if (port === PORT.REPORT_VALUE) this.#latch = value >>> 0;
    else if (port === PORT.HALT_PERIOD) {
      this.haltPeriodUs = value === 0 ? DEFAULT_HALT_PERIOD_US : Math.min(value >>> 0, MAX_HALT_PERIOD_US);
    } else if (isDevicePort(port)) this.#lastWritten[port - PORT.DEVICE_BASE] = value >>> 0;
    return false;
  }

  /** The device model's state (save/restore). */
  capture(): DeviceState {
    return { reportLatch: this.#latch, haltPeriodUs: this.haltPeriodUs, deviceLast: [...this.#lastWritten] };
  }

  /** Continues from a captured state. */
  restore(state: DeviceState): void {
    this.#latch = state.reportLatch >>> 0;
    this.haltPeriodUs = Math.min(state.haltPeriodUs >>> 0, MAX_HALT_PERIOD_US) || DEFAULT_HALT_PERIOD_US;
    for (let i = 0; i < DEVICE_PORTS; i++) this.#lastWritten[i] = (state.deviceLast[i] ?? 0) >>> 0;
  }

  /** The value an IN access of `size` bytes reads from `port`. */
  in(port: number, size: number): number {
    if (isDevicePort(port)) return deviceInValue(port, this.#lastWritten[port - PORT.DEVICE_BASE]!, size);
    return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
  }
}
