/**
 * Layouts of struct kvm_regs and struct kvm_sregs (x86_64) and the real-mode setup hvkit's tiny
 * guests start from. Only the fields hvkit touches are named; the rest round-trip untouched
 * because sregs are always read from the vCPU, edited in place and written back.
 */

export const KVM_REGS_SIZE = 144;
export const KVM_SREGS_SIZE = 312;

const REG_NAMES = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rsp',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
  'rip',
  'rflags',
] as const;

export type RegName = (typeof REG_NAMES)[number];
export type Regs = Record<RegName, bigint>;

export function decodeRegs(buf: Uint8Array): Regs {
  if (buf.length !== KVM_REGS_SIZE) throw new RangeError(`kvm_regs is ${KVM_REGS_SIZE} bytes, got ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const regs = {} as Regs;
  REG_NAMES.forEach((name, i) => {
    regs[name] = view.getBigUint64(i * 8, true);
  });
  return regs;
}

export function encodeRegs(regs: Partial<Regs>): Uint8Array {
  const buf = new Uint8Array(KVM_REGS_SIZE);
  const view = new DataView(buf.buffer);
  REG_NAMES.forEach((name, i) => {
    view.setBigUint64(i * 8, regs[name] ?? 0n, true);
  });
  return buf;
}

/** Byte offsets of the struct kvm_segment members inside struct kvm_sregs. */
const SEGMENT_OFFSET = { cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120, tr: 144, ldt: 168 } as const;
export type SegmentName = keyof typeof SEGMENT_OFFSET;
/** struct kvm_dtable { u64 base; u16 limit; u16 padding[3]; } for the GDT and IDT. */
const GDT_OFFSET = 192;
const IDT_OFFSET = 208;
const CR0_OFFSET = 224;
const CR2_OFFSET = 232;
const CR3_OFFSET = 240;
const CR4_OFFSET = 248;
const EFER_OFFSET = 264;
const CR0_PE = 1n;

/** Points a segment register at `selector` the real-mode way: base = selector * 16, 64 KiB limit. */
export function setRealModeSegment(sregs: Uint8Array, seg: SegmentName, selector: number): void {
  const view = new DataView(sregs.buffer, sregs.byteOffset, sregs.byteLength);
  const at = SEGMENT_OFFSET[seg];
  view.setBigUint64(at, BigInt(selector) << 4n, true); // base
  view.setUint32(at + 8, 0xffff, true); // limit
  view.setUint16(at + 12, selector, true); // selector
}

export function segmentBase(sregs: Uint8Array, seg: SegmentName): bigint {
  return new DataView(sregs.buffer, sregs.byteOffset, sregs.byteLength).getBigUint64(SEGMENT_OFFSET[seg], true);
}

export function isProtectedMode(sregs: Uint8Array): boolean {
  return (
    (new DataView(sregs.buffer, sregs.byteOffset, sregs.byteLength).getBigUint64(CR0_OFFSET, true) & CR0_PE) !== 0n
  );
}

/** RFLAGS bit 1 is reserved and must be set. */
export const RFLAGS_RESERVED = 0x2n;

/** The hidden (descriptor-cache) state of a segment register, as struct kvm_segment holds it. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  /** Descriptor type (4 bits): 0xb = execute/read code (accessed), 0x3 = read/write data (accessed), 0xb with s=0 = busy TSS. */
  type: number;
  present: boolean;
  dpl: number;
  /** Default operation size: true = 32-bit. */
  db: boolean;
  /** Code/data (true) or system (false) descriptor. */
  s: boolean;
  /** 64-bit code segment. */
  l: boolean;
  /** Limit counted in 4 KiB pages. */
  g: boolean;
  unusable: boolean;
}

function sregsView(sregs: Uint8Array): DataView {
  if (sregs.length !== KVM_SREGS_SIZE)
    throw new RangeError(`kvm_sregs is ${KVM_SREGS_SIZE} bytes, got ${sregs.length}`);
  return new DataView(sregs.buffer, sregs.byteOffset, sregs.byteLength);
}

export function setSegment(sregs: Uint8Array, seg: SegmentName, s: Segment): void {
  const view = sregsView(sregs);
  const at = SEGMENT_OFFSET[seg];
  view.setBigUint64(at, s.base, true);
  view.setUint32(at + 8, s.limit >>> 0, true);
  view.setUint16(at + 12, s.selector, true);
  const flags = [s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, false, s.unusable, 0];
  flags.forEach((v, i) => {
    view.setUint8(at + 14 + i, Number(v));
  });
}

export function getSegment(sregs: Uint8Array, seg: SegmentName): Segment {
  const view = sregsView(sregs);
  const at = SEGMENT_OFFSET[seg];
  const b = (i: number) => view.getUint8(at + 14 + i);
  return {
    base: view.getBigUint64(at, true),
    limit: view.getUint32(at + 8, true),
    selector: view.getUint16(at + 12, true),
    type: b(0),
    present: b(1) !== 0,
    dpl: b(2),
    db: b(3) !== 0,
    s: b(4) !== 0,
    l: b(5) !== 0,
    g: b(6) !== 0,
    unusable: b(8) !== 0,
  };
}

export function setDescriptorTable(sregs: Uint8Array, table: 'gdt' | 'idt', base: bigint, limit: number): void {
  const view = sregsView(sregs);
  const at = table === 'gdt' ? GDT_OFFSET : IDT_OFFSET;
  view.setBigUint64(at, base, true);
  view.setUint16(at + 8, limit, true);
}

export type ControlRegister = 'cr0' | 'cr2' | 'cr3' | 'cr4' | 'efer';
const CONTROL_OFFSET: Record<ControlRegister, number> = {
  cr0: CR0_OFFSET,
  cr2: CR2_OFFSET,
  cr3: CR3_OFFSET,
  cr4: CR4_OFFSET,
  efer: EFER_OFFSET,
};

export function getControlRegister(sregs: Uint8Array, reg: ControlRegister): bigint {
  return sregsView(sregs).getBigUint64(CONTROL_OFFSET[reg], true);
}

export function setControlRegister(sregs: Uint8Array, reg: ControlRegister, value: bigint): void {
  sregsView(sregs).setBigUint64(CONTROL_OFFSET[reg], value, true);
}

/**
 * Registers for error reports: the general registers, the control registers and CS/SS, as
 * 0x-prefixed hex strings (stable to print, to compare and to send between threads).
 */
/**
 * Whether the vCPU sits in the architectural INIT state: CS:IP = F000:FFF0 with CS based at
 * 0xFFFF0000 and paging and protection off. kvm_amd puts a vCPU there when the guest triple faults
 * (the VMCB is undefined after a SHUTDOWN intercept, so KVM INITs the vCPU before returning
 * KVM_EXIT_SHUTDOWN); kvm_intel leaves the faulting state. No guest that ran can fault from it.
 */
export function isInitState(regs: Regs, sregs: Uint8Array): boolean {
  const cs = getSegment(sregs, 'cs');
  return (
    regs.rip === 0xfff0n &&
    cs.selector === 0xf000 &&
    cs.base === 0xffff0000n &&
    (getControlRegister(sregs, 'cr0') & 1n) === 0n
  );
}

export function describeRegisters(regs: Regs, sregs?: Uint8Array): Record<string, string> {
  const hex = (v: bigint | number) => `0x${v.toString(16)}`;
  const out: Record<string, string> = {};
  for (const name of REG_NAMES) out[name] = hex(regs[name]);
  if (sregs) {
    for (const reg of Object.keys(CONTROL_OFFSET) as ControlRegister[]) out[reg] = hex(getControlRegister(sregs, reg));
    for (const seg of ['cs', 'ss'] as const) {
      const s = getSegment(sregs, seg);
      out[seg] = `${hex(s.selector)} base ${hex(s.base)} limit ${hex(s.limit)} type ${s.type}${s.db ? ' 32-bit' : ''}`;
    }
  }
  return out;
}
