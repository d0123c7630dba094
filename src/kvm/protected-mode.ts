/**
 * Puts a freshly created vCPU into 32-bit protected mode with flat segments, paging off.
 *
 * Why 32-bit protected mode rather than long mode: long mode needs page tables in guest memory
 * (CR0.PG is mandatory with EFER.LMA), while 32-bit protected mode runs with paging off, so the
 * guest's view of memory is exactly guest physical memory and a guest is a flat binary compiled
 * with `gcc -m32 -ffreestanding`. KVM_SET_SREGS loads the segment registers' hidden state
 * directly, so no GDT has to exist in guest memory as long as the guest never reloads a segment
 * register (hvkit's guests never do); the GDTR/IDTR get a zero limit, so any exception the guest
 * takes escalates to a triple fault (a clean SHUTDOWN exit) instead of running garbage.
 */
import { KvmError } from './errors.ts';
import {
  getControlRegister,
  isProtectedMode,
  type Regs,
  RFLAGS_RESERVED,
  type Segment,
  type SegmentName,
  setControlRegister,
  setDescriptorTable,
  setSegment,
} from './regs.ts';
import type { Vcpu } from './vcpu.ts';

/** Selectors the flat segments pretend to come from (GDT entries 1, 2 and 3). */
export const FLAT_CODE_SELECTOR = 0x08;
export const FLAT_DATA_SELECTOR = 0x10;
const TSS_SELECTOR = 0x18;

const CR0_PE = 1n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;

function flat(selector: number, type: number): Segment {
  return {
    base: 0n,
    limit: 0xffff_ffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db: true,
    s: true,
    l: false,
    g: true,
    unusable: false,
  };
}

const DATA_SEGMENTS: SegmentName[] = ['ds', 'es', 'fs', 'gs', 'ss'];

/**
 * Sets CS to a flat 32-bit code segment and DS/ES/FS/GS/SS to a flat data segment (base 0, 4 GiB
 * limit), a minimal busy TSS and an unusable LDT (VMX checks both even when unused), CR0 = PE|ET,
 * then the general registers with EIP = `entry`.
 */
export function enterProtectedMode(vcpu: Vcpu, entry: number, regs: Partial<Regs> = {}): void {
  if (!Number.isInteger(entry) || entry < 0 || entry > 0xffff_ffff) {
    throw new RangeError(`protected-mode entry must fit in 32 bits: ${entry}`);
  }
  const sregs = vcpu.getSregs();
  if (isProtectedMode(sregs)) throw new KvmError(`vcpu ${vcpu.id} is not in its reset (real-mode) state`);
  setSegment(sregs, 'cs', flat(FLAT_CODE_SELECTOR, 0xb));
  for (const seg of DATA_SEGMENTS) setSegment(sregs, seg, flat(FLAT_DATA_SELECTOR, 0x3));
  setSegment(sregs, 'tr', { ...flat(TSS_SELECTOR, 0xb), s: false, db: false, g: false, limit: 0x67 });
  setSegment(sregs, 'ldt', {
    ...flat(0, 0x2),
    s: false,
    db: false,
    g: false,
    limit: 0,
    present: false,
    unusable: true,
  });
  setDescriptorTable(sregs, 'gdt', 0n, 0);
  setDescriptorTable(sregs, 'idt', 0n, 0);
  const cr0 = (getControlRegister(sregs, 'cr0') | CR0_PE | CR0_ET) & ~CR0_PG;
  setControlRegister(sregs, 'cr0', cr0);
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...regs, rip: BigInt(entry), rflags: RFLAGS_RESERVED });
}
