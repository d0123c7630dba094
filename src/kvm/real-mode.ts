/**
 * Puts a freshly created vCPU into 16-bit real mode at a flat entry point: all segments at
 * selector 0 (base 0), so guest physical address = offset, and the given general registers.
 */
import { InternalError } from '../errors.ts';
import { isProtectedMode, type Regs, RFLAGS_RESERVED, type SegmentName, setRealModeSegment } from './regs.ts';
import type { Vcpu } from './vcpu.ts';

const SEGMENTS: SegmentName[] = ['cs', 'ds', 'es', 'fs', 'gs', 'ss'];

export function enterRealMode(vcpu: Vcpu, entry: number, regs: Partial<Regs> = {}): void {
  if (entry < 0 || entry > 0xffff) throw new RangeError(`real-mode entry must fit in 16 bits: ${entry}`);
  const sregs = vcpu.getSregs();
  if (isProtectedMode(sregs)) throw new InternalError(`vcpu ${vcpu.id} is not in its reset (real-mode) state`);
  for (const seg of SEGMENTS) setRealModeSegment(sregs, seg, 0);
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...regs, rip: BigInt(entry), rflags: RFLAGS_RESERVED });
}
