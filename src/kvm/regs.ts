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
const SEGMENT_OFFSET = { cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120 } as const;
export type SegmentName = keyof typeof SEGMENT_OFFSET;
const CR0_OFFSET = 224;
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
