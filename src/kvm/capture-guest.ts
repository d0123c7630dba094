/**
 * The "capture" guest (guest/capture/capture.S): writes CX bytes 0, 1, 2 … to port DX, then halts.
 * Running it gives every vCPU's exits, io_exits and halt_exits counters known minimum values.
 */
import { buildGuest, type GuestImage } from './build-guest.ts';
import { KvmError } from './errors.ts';
import { enterRealMode } from './real-mode.ts';
import { type RunResult, runUntilHalt } from './run-loop.ts';
import type { Vcpu } from './vcpu.ts';
import type { Vm } from './vm.ts';

/** Guest RAM: one 64 KiB real-mode segment at guest physical 0, code linked at 0x1000. */
export const CAPTURE_GUEST_RAM = 0x10000;
export const CAPTURE_GUEST_LOAD = 0x1000;
/** An unassigned port, so no device model is implied. */
export const CAPTURE_GUEST_PORT = 0x10;
export const CAPTURE_GUEST_DEFAULT_WRITES = 8;

export function buildCaptureGuest(): GuestImage {
  return buildGuest('capture', { loadAddress: CAPTURE_GUEST_LOAD });
}

/** Adds the guest's RAM to `vm` and copies the image in. Do this once per VM, before running vCPUs. */
export function loadCaptureGuest(vm: Vm, image: GuestImage = buildCaptureGuest()): void {
  if (image.loadAddress + image.bytes.length > CAPTURE_GUEST_RAM)
    throw new KvmError('capture guest does not fit its RAM');
  const ram = vm.addMemory(0n, CAPTURE_GUEST_RAM);
  ram.write(BigInt(image.loadAddress), image.bytes);
}

export interface CaptureGuestRun extends RunResult {
  /** Number of OUT writes the guest was asked for (and, verified, did). */
  writes: number;
}

/**
 * Starts the guest on `vcpu` (which must be fresh: in its reset state), runs it to its HLT and
 * checks that it wrote exactly 0 … writes-1 to the port.
 */
export function runCaptureGuest(vcpu: Vcpu, writes = CAPTURE_GUEST_DEFAULT_WRITES): CaptureGuestRun {
  if (!Number.isInteger(writes) || writes < 0 || writes > 255) throw new RangeError(`writes must be 0..255: ${writes}`);
  enterRealMode(vcpu, CAPTURE_GUEST_LOAD, { rcx: BigInt(writes), rdx: BigInt(CAPTURE_GUEST_PORT) });
  const result = runUntilHalt(vcpu, { maxExits: writes + 16 });
  const stray = result.io.find((a) => a.direction !== 'out' || a.port !== CAPTURE_GUEST_PORT || a.size !== 1);
  if (stray) throw new KvmError(`vcpu ${vcpu.id}: capture guest made an unexpected access: ${JSON.stringify(stray)}`);
  const seen = result.io.flatMap((a) => a.values);
  const expected = Array.from({ length: writes }, (_, i) => i);
  if (seen.join(',') !== expected.join(',')) {
    throw new KvmError(`vcpu ${vcpu.id}: capture guest wrote [${seen.join(',')}], expected [${expected.join(',')}]`);
  }
  return { ...result, writes };
}
