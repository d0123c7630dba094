/**
 * The guest ABI of hvkit's workload guests: the ONE place that defines the port numbers, report
 * codes, register contract, memory layout and workload sizes. The C guests in guest/ receive these
 * as -D definitions at build time (guestDefines), the simulated guests import them, and the VMM's
 * device model (devices.ts) serves them.
 *
 * Report protocol: the guest writes a 32-bit value to REPORT_VALUE (latched), then a 32-bit code
 * to REPORT_CODE; the write to REPORT_CODE delivers one report (code, latched value) to the host.
 *
 * Device ports: DEVICE_BASE … DEVICE_BASE + DEVICE_PORTS - 1. An OUT stores the value (per vCPU,
 * per port, zero-extended from the access size); an IN returns the last value written to that
 * port XOR (DEVICE_IN_XOR | port), truncated to the access size — deterministic, so the guest
 * checks every value it reads and reports the mismatches (CHECK_ERRORS, expected 0).
 *
 * HALT_PERIOD: an OUT sets how long (µs) the VMM keeps this vCPU halted after each later HLT
 * (0 = DEFAULT_HALT_PERIOD_US). The VMM has no interrupt sources, so a halt always lasts its period
 * unless the vCPU is paused or stopped.
 */

/** Guest memory layout (guest physical = guest linear: paging is off). */
export const GUEST_LOAD_ADDRESS = 0x1_0000;
/** vCPU i's stack grows down from GUEST_STACK_TOP - i × GUEST_STACK_SIZE. */
export const GUEST_STACK_TOP = 0x10_0000;
export const GUEST_STACK_SIZE = 0x4000;
export const MAX_GUEST_VCPUS = 32;
/** Image must end below the lowest stack. */
export const GUEST_IMAGE_LIMIT = GUEST_STACK_TOP - MAX_GUEST_VCPUS * GUEST_STACK_SIZE;
/** A guest physical address no memory slot backs (the `mmio` test guest stores there). */
export const GUEST_UNMAPPED_ADDRESS = 0xd000_0000;

export const PORT = {
  REPORT_VALUE: 0x510,
  REPORT_CODE: 0x514,
  HALT_PERIOD: 0x518,
  DEVICE_BASE: 0x520,
} as const;
export const DEVICE_PORTS = 4;
export const DEVICE_IN_XOR = 0x5a5a_0000;
export const DEFAULT_HALT_PERIOD_US = 1000;
/** A HALT_PERIOD write above this is clamped (a guest cannot park its vCPU for hours). */
export const MAX_HALT_PERIOD_US = 1_000_000;

export const REPORT = {
  /** value = vCPU index (first report of every guest). */
  START: 1,
  /** value = rounds completed (after each round). */
  ROUND: 2,
  /** value = HLTs executed. */
  HALTS: 3,
  /** value = port accesses other than the report protocol's (each string element counts). */
  IO_OPS: 4,
  /** value = digest of the computation and of every IN value. */
  CHECKSUM: 5,
  /** value = IN values that were not what the device model promises (expected 0). */
  CHECK_ERRORS: 6,
  /** value = reports sent before this one (so the total is value + 2, counting this and DONE). */
  REPORTS: 7,
  /** value = rounds run; the guest is finished: the VMM stops this vCPU (guest-shutdown event). */
  DONE: 8,
} as const;
export type ReportCode = (typeof REPORT)[keyof typeof REPORT];

export function reportName(code: number): string {
  for (const [name, value] of Object.entries(REPORT)) if (value === code) return name;
  return `code ${code}`;
}

/** Initial checksum of vCPU i: (i + 1) × SEED_MULTIPLIER mod 2^32 (never 0, as xorshift needs). */
export const SEED_MULTIPLIER = 0x9e37_79b9;

/** Workload sizes (per round). */
export const WORKLOAD = {
  COMPUTE_ITERATIONS: 2000,
  IO_BURST: 32,
  IO_HALT_EVERY: 8,
  MIXED_ITERATIONS: 500,
  MIXED_IO_PAIRS: 8,
  MIXED_STRING_BYTES: 16,
  MIXED_HALT_BASE_US: 200,
  MIXED_HALT_STEP_US: 100,
} as const;

/**
 * Register contract at entry (32-bit protected mode, flat segments, EIP = GUEST_LOAD_ADDRESS):
 * ESP = the vCPU's stack top, EBX = vCPU index, ECX = rounds to run (0 = forever).
 */
export function entryRegisters(vcpu: number, rounds: number): { rsp: bigint; rbx: bigint; rcx: bigint } {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= MAX_GUEST_VCPUS) {
    throw new RangeError(`vCPU index must be 0..${MAX_GUEST_VCPUS - 1}: ${vcpu}`);
  }
  if (!Number.isInteger(rounds) || rounds < 0 || rounds > 0xffff_ffff) throw new RangeError(`bad rounds: ${rounds}`);
  return { rsp: BigInt(GUEST_STACK_TOP - vcpu * GUEST_STACK_SIZE), rbx: BigInt(vcpu), rcx: BigInt(rounds) };
}

/** The value a device port's IN returns, given the last value written to it on this vCPU. */
export function deviceInValue(port: number, lastWritten: number, size: number): number {
  const v = (lastWritten ^ (DEVICE_IN_XOR | port)) >>> 0;
  return size === 4 ? v : v & (size === 2 ? 0xffff : 0xff);
}

export function isDevicePort(port: number): boolean {
  return port >= PORT.DEVICE_BASE && port < PORT.DEVICE_BASE + DEVICE_PORTS;
}

/**
 * The -D definitions the C and assembly guests are built with (names HVKIT_<…>), as hex literals:
 * in C a hex literal too big for int is unsigned, which is what the uint32_t arithmetic wants.
 */
export function guestDefines(): Record<string, string> {
  const defines: Record<string, number> = {
    HVKIT_PORT_REPORT_VALUE: PORT.REPORT_VALUE,
    HVKIT_PORT_REPORT_CODE: PORT.REPORT_CODE,
    HVKIT_PORT_HALT_PERIOD: PORT.HALT_PERIOD,
    HVKIT_PORT_DEVICE_BASE: PORT.DEVICE_BASE,
    HVKIT_DEVICE_PORTS: DEVICE_PORTS,
    HVKIT_DEVICE_IN_XOR: DEVICE_IN_XOR,
    HVKIT_SEED_MULTIPLIER: SEED_MULTIPLIER,
    HVKIT_UNMAPPED_ADDRESS: GUEST_UNMAPPED_ADDRESS,
  };
  for (const [name, code] of Object.entries(REPORT)) defines[`HVKIT_REPORT_${name}`] = code;
  for (const [name, value] of Object.entries(WORKLOAD)) defines[`HVKIT_${name}`] = value;
  return Object.fromEntries(Object.entries(defines).map(([k, v]) => [k, `0x${v.toString(16)}`]));
}
