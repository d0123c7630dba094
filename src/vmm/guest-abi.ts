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
 *
 * Hypercalls (DESIGN §4, call words in src/formats/callword): the guest puts the call word in EAX
 * and up to five 32-bit arguments in EBX, ECX, EDX, ESI, EDI (zero-extended to the call's u64
 * arguments; the rest are zero), then executes `outl %eax, $HYPERCALL` — a port below 0x100, so the
 * OUT takes its port as an immediate and DX stays free for an argument. The VMM reads the
 * registers (KVM_GET_REGS), forwards the call to the host's dispatcher and, before re-entering the
 * guest, writes the status (s32) to EAX and the low 32 bits of the call's first three values to
 * EBX, ECX, EDX (0 for absent values); ESI and EDI are preserved. Without a dispatcher every
 * hypercall answers unknown_family. Any other access to HYPERCALL (an IN, another size) is not a
 * hypercall and behaves like an unassigned port.
 *
 * Batches (schemas/call-batch): hvkit's guests keep vCPU i's buffer at
 * GUEST_BATCH_AREA + i × GUEST_BATCH_STRIDE with GUEST_BATCH_CAPACITY entries, and register it once
 * with the core batch_register call; any 8-byte aligned address inside guest memory would do.
 */

import { BATCH_CALL, MAX_CAPACITY } from '../formats/callbatch/constants.ts';
import { ANNOTATION, CORE_CALL, EXPERIMENTAL_CALL, FAMILY, QUERY_FLAG, STATUS } from '../formats/callword/constants.ts';
import { callWord } from '../formats/callword/word.ts';

/** Guest memory layout (guest physical = guest linear: paging is off). */
export const GUEST_LOAD_ADDRESS = 0x1_0000;
/** vCPU i's stack grows down from GUEST_STACK_TOP - i × GUEST_STACK_SIZE. */
export const GUEST_STACK_TOP = 0x10_0000;
export const GUEST_STACK_SIZE = 0x4000;
export const MAX_GUEST_VCPUS = 32;
/** Per-vCPU call-batch buffers live between the image and the lowest stack. */
export const GUEST_BATCH_AREA = 0x4_0000;
export const GUEST_BATCH_STRIDE = 0x2000;
/** Entries of hvkit's guests' batch buffers (header + entries fit GUEST_BATCH_STRIDE). */
export const GUEST_BATCH_CAPACITY = 64;
/** Image must end below the batch buffers (which end at the lowest stack). */
export const GUEST_IMAGE_LIMIT = GUEST_BATCH_AREA;
/** A guest physical address no memory slot backs (the `mmio` test guest stores there). */
export const GUEST_UNMAPPED_ADDRESS = 0xd000_0000;

export const PORT = {
  REPORT_VALUE: 0x510,
  REPORT_CODE: 0x514,
  HALT_PERIOD: 0x518,
  DEVICE_BASE: 0x520,
  /** A 4-byte OUT here is a hypercall (see above). */
  HYPERCALL: 0xe0,
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
  /**
   * value = port accesses other than the report protocol's and hypercalls (each string element
   * counts; the `calls` guest reports its hypercalls as CALLS and FLUSHES).
   */
  IO_OPS: 4,
  /** value = digest of the computation and of every IN value. */
  CHECKSUM: 5,
  /** value = IN values that were not what the device model promises (expected 0). */
  CHECK_ERRORS: 6,
  /** value = reports sent before this one (so the total is value + 2, counting this and DONE). */
  REPORTS: 7,
  /** value = rounds run; the guest is finished: the VMM stops this vCPU (guest-shutdown event). */
  DONE: 8,
  /** `calls` guest: value = batch size in use (0 = direct calls, also when batching is absent). */
  BATCH_SIZE: 9,
  /** `calls` guest: value = calls made (queued or direct; flushes and registrations not counted). */
  CALLS: 10,
  /** `calls` guest: value = flush hypercalls. */
  FLUSHES: 11,
  /** `calls` guest: value = results that differed from what the guest expected (expected 0). */
  CALL_ERRORS: 12,
  /** `calls` guest: value = hostile batch headers/entries the host refused with the defined error. */
  REFUSED: 13,
  // The `pools` guest (guest/pools): one report of each after its rounds.
  /** value = the pool ABI version in use (the configuration word's), or POOLS_OFF when pools are off. */
  POOL_VERSION: 14,
  /** value = puts the host acknowledged. */
  POOL_PUTS: 15,
  /** value = gets that hit with every byte of the page as put. */
  POOL_HITS: 16,
  /** value = gets that missed where a miss was expected (after a flush). */
  POOL_MISSES: 17,
  /** value = pages the flushes and the destroys removed (as the host answered). */
  POOL_FLUSHED: 18,
  /** value = calls that got the defined error the guest provoked (reserved flag bit, unknown version, …). */
  POOL_REFUSED: 19,
  /** value = answers the guest did not expect, wrong bytes included (expected 0). */
  POOL_ERRORS: 20,
  /** value = ephemeral pages missing on a get before any flush (allowed: ephemeral pools evict). */
  POOL_LOST: 21,
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
  /** `calls` guest: calls per round (queueable ones, then one direct read_total). */
  CALLS_PER_ROUND: 512,
} as const;

/**
 * The `calls` guest's configuration word (EDX at entry): bits 0..7 = batch size (0 = direct
 * calls; at most GUEST_BATCH_CAPACITY), HOSTILE = also try hostile batch headers and entries.
 */
export const CALLS_CONFIG = { BATCH_MASK: 0xff, HOSTILE: 0x100 } as const;
/** Hostile cases the `calls` guest tries (each should be refused: REPORT.REFUSED). */
export const CALLS_HOSTILE_CASES = 7;

/**
 * The `pools` guest (guest/pools/pools.c, src/vmm/sim-pools.ts): its configuration word (EDX)
 * is the pool ABI version it speaks (bits 0..7; one it does not know makes its creates fail with
 * not_supported and it runs as if pools were off). vCPU i keeps its two page buffers (the page it
 * puts, the page it gets into) at GUEST_POOL_AREA + i × 2 pages: above the stacks, so a domain
 * needs more than 1 MiB (with less the guest runs with pools off).
 */
export const POOLS_CONFIG = { VERSION_MASK: 0xff } as const;
export const GUEST_POOL_AREA = GUEST_STACK_TOP;
/** REPORT.POOL_VERSION's value when the guest ran with pools off. */
export const POOLS_OFF = 0xffff_ffff;
/** Per round and pool: objects, pages (indexes) per object. */
export const POOLS_OBJECTS = 4;
export const POOLS_PAGES = 4;

/**
 * Register contract at entry (32-bit protected mode, flat segments, EIP = GUEST_LOAD_ADDRESS):
 * ESP = the vCPU's stack top, EBX = vCPU index, ECX = rounds to run (0 = forever), EDX = the
 * program's configuration word (0 unless the program defines one), ESI = guest memory in KiB.
 */
export function entryRegisters(
  vcpu: number,
  rounds: number,
  arg = 0,
  memoryKiB = 0,
): { rsp: bigint; rbx: bigint; rcx: bigint; rdx: bigint; rsi: bigint } {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= MAX_GUEST_VCPUS) {
    throw new RangeError(`vCPU index must be 0..${MAX_GUEST_VCPUS - 1}: ${vcpu}`);
  }
  for (const [what, v] of [
    ['rounds', rounds],
    ['arg', arg],
    ['memoryKiB', memoryKiB],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`bad ${what}: ${v}`);
  }
  return {
    rsp: BigInt(GUEST_STACK_TOP - vcpu * GUEST_STACK_SIZE),
    rbx: BigInt(vcpu),
    rcx: BigInt(rounds),
    rdx: BigInt(arg),
    rsi: BigInt(memoryKiB),
  };
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
    HVKIT_PORT_HYPERCALL: PORT.HYPERCALL,
    HVKIT_MAX_VCPUS: MAX_GUEST_VCPUS,
    HVKIT_BATCH_AREA: GUEST_BATCH_AREA,
    HVKIT_BATCH_STRIDE: GUEST_BATCH_STRIDE,
    HVKIT_BATCH_CAPACITY: GUEST_BATCH_CAPACITY,
    HVKIT_CALLS_BATCH_MASK: CALLS_CONFIG.BATCH_MASK,
    HVKIT_CALLS_HOSTILE: CALLS_CONFIG.HOSTILE,
    HVKIT_CALLS_HOSTILE_CASES: CALLS_HOSTILE_CASES,
    HVKIT_ANNOTATION_MAY_QUEUE: ANNOTATION.mayQueue,
    HVKIT_QUERY_SUPPORTED: Number(QUERY_FLAG.supported),
    HVKIT_QUERY_GUEST: Number(QUERY_FLAG.guest),
    HVKIT_CALL_QUERY: callWord(FAMILY.core, CORE_CALL.queryCall),
    HVKIT_CALL_BATCH_REGISTER: callWord(FAMILY.core, BATCH_CALL.register),
    HVKIT_CALL_BATCH_FLUSH: callWord(FAMILY.core, BATCH_CALL.flush),
    HVKIT_CALL_ECHO: callWord(FAMILY.experimental, EXPERIMENTAL_CALL.echo),
    HVKIT_CALL_ADD: callWord(FAMILY.experimental, EXPERIMENTAL_CALL.add),
    HVKIT_CALL_ACCUMULATE: callWord(FAMILY.experimental, EXPERIMENTAL_CALL.accumulate),
    HVKIT_CALL_READ_TOTAL: callWord(FAMILY.experimental, EXPERIMENTAL_CALL.readTotal),
    HVKIT_BATCH_MAX_CAPACITY: MAX_CAPACITY,
    HVKIT_POOLS_VERSION_MASK: POOLS_CONFIG.VERSION_MASK,
    HVKIT_POOL_AREA: GUEST_POOL_AREA,
    HVKIT_POOLS_OFF: POOLS_OFF,
    HVKIT_POOLS_OBJECTS: POOLS_OBJECTS,
    HVKIT_POOLS_PAGES: POOLS_PAGES,
  };
  for (const [name, code] of Object.entries(REPORT)) defines[`HVKIT_REPORT_${name}`] = code;
  for (const [name, value] of Object.entries(WORKLOAD)) defines[`HVKIT_${name}`] = value;
  const out = Object.fromEntries(Object.entries(defines).map(([k, v]) => [k, `0x${v.toString(16)}`]));
  // Statuses are negative: decimal, parenthesised, so `status == HVKIT_STATUS_X` compares int32s.
  for (const [name, value] of Object.entries(STATUS)) out[`HVKIT_STATUS_${snake(name)}`] = `(${value})`;
  return out;
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}
