/**
 * The mapping between the image's plain data (image.ts) and the schema's struct values: the domain
 * header, the vCPU state and the image options, both ways. Reading checks every value's range.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { FormatError } from '../../errors.ts';
import { enumValues } from './abi.ts';
import type { CpuKind, SimCpuState, StreamDomain, StreamOptions, VcpuState } from './image.ts';
import type { StructValue } from './struct-codec.ts';

const FORMAT = 'stream';
export const MAX_VCPUS = 32;
export const MAX_MEMORY_MIB = 4096;
export const KVM_REGS_COUNT = 18;
export const KVM_SREGS_BYTES = 312;
export const DEVICE_PORTS = 4;

const OPTION_BITS = { migration: 1, paused: 2 } as const;
const VCPU_PARKED = 1;

const SIM_FIELDS = [
  ['phase', 'phase'],
  ['round', 'round'],
  ['step', 'step'],
  ['x', 'x'],
  ['halts', 'halts'],
  ['ioOps', 'io_ops'],
  ['reports', 'reports'],
  ['errors', 'errors'],
  ['checksum', 'checksum'],
  ['inValue', 'in_value'],
  ['spinState', 'spin_state'],
] as const;

function nameOf(abi: ResolvedAbi, enumName: string, value: bigint, field: string): string {
  for (const [name, v] of enumValues(abi, enumName)) if (BigInt(v) === value) return name;
  throw new FormatError(FORMAT, field, 'unknown-enum-value', `not a value of ${enumName}`, value.toString());
}

function enumValue(abi: ResolvedAbi, enumName: string, name: string): bigint {
  const v = enumValues(abi, enumName).get(name);
  if (v === undefined) throw new RangeError(`${JSON.stringify(name)} is not a ${enumName} of the stream ABI`);
  return BigInt(v);
}

function range(field: string, v: bigint, lo: number, hi: number): number {
  if (v < BigInt(lo) || v > BigInt(hi)) {
    throw new FormatError(FORMAT, field, 'out-of-range', `must be ${lo}..${hi}`, v.toString());
  }
  return Number(v);
}

export function encodeOptions(o: StreamOptions): bigint {
  return BigInt((o.migration ? OPTION_BITS.migration : 0) | (o.paused ? OPTION_BITS.paused : 0));
}

export function decodeOptions(v: bigint): StreamOptions {
  if (v & ~3n)
    throw new FormatError(
      FORMAT,
      'image_header.options',
      'unknown-option',
      'unknown option bits set',
      `0x${v.toString(16)}`,
    );
  return { migration: (v & 1n) !== 0n, paused: (v & 2n) !== 0n };
}

export function domainToStruct(abi: ResolvedAbi, d: StreamDomain): StructValue {
  return {
    name: d.name,
    vcpus: BigInt(d.vcpus),
    memory_mib: BigInt(d.memoryMiB),
    workload: enumValue(abi, 'workload', d.workload),
    program: enumValue(abi, 'guest_program', d.program),
    rounds: BigInt(d.rounds),
    cpu: enumValue(abi, 'cpu_kind', d.cpu),
  };
}

export function domainFromStruct(abi: ResolvedAbi, v: StructValue): StreamDomain {
  const name = v.name as string;
  if (name.length === 0) throw new FormatError(FORMAT, 'domain_header.name', 'empty-name', 'a domain has a name');
  for (const ch of name) {
    if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) {
      throw new FormatError(FORMAT, 'domain_header.name', 'control-character', 'names hold no control characters');
    }
  }
  return {
    name,
    vcpus: range('domain_header.vcpus', v.vcpus as bigint, 1, MAX_VCPUS),
    memoryMiB: range('domain_header.memory_mib', v.memory_mib as bigint, 1, MAX_MEMORY_MIB),
    workload: nameOf(abi, 'workload', v.workload as bigint, 'domain_header.workload'),
    program: nameOf(abi, 'guest_program', v.program as bigint, 'domain_header.program'),
    rounds: Number(v.rounds as bigint),
    cpu: nameOf(abi, 'cpu_kind', v.cpu as bigint, 'domain_header.cpu') as CpuKind,
  };
}

export function vcpuToStruct(abi: ResolvedAbi, s: VcpuState): StructValue {
  const out: StructValue = {
    vcpu: BigInt(s.vcpu),
    flags: s.parked ? BigInt(VCPU_PARKED) : 0n,
    cpu: enumValue(abi, 'cpu_kind', s.cpu.kind),
    report_latch: BigInt(s.devices.reportLatch >>> 0),
    halt_period_us: BigInt(s.devices.haltPeriodUs >>> 0),
    device_last: s.devices.deviceLast.map((x) => BigInt(x >>> 0)),
  };
  if (s.cpu.kind === 'kvm') {
    if (s.cpu.regs.length !== KVM_REGS_COUNT || s.cpu.sregs.length !== KVM_SREGS_BYTES) {
      throw new RangeError(`kvm state needs ${KVM_REGS_COUNT} registers and ${KVM_SREGS_BYTES} bytes of sregs`);
    }
    out.kvm_regs = s.cpu.regs;
    out.kvm_sregs = s.cpu.sregs;
  } else {
    const sim: StructValue = { started: s.cpu.sim.started ? 1n : 0n, steps: BigInt(s.cpu.sim.steps) };
    for (const [key, field] of SIM_FIELDS) sim[field] = BigInt(s.cpu.sim[key] >>> 0);
    out.sim = sim;
  }
  return out;
}

function zero(v: FieldLike): boolean {
  if (typeof v === 'bigint') return v === 0n;
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  if (Array.isArray(v)) return v.every((x) => x === 0n);
  return Object.values(v as StructValue).every((x) => zero(x as FieldLike));
}
type FieldLike = bigint | bigint[] | Uint8Array | StructValue;

export function vcpuFromStruct(abi: ResolvedAbi, v: StructValue, domainCpu: CpuKind): VcpuState {
  const vcpu = Number(v.vcpu as bigint);
  const where = `vcpu_state[${vcpu}]`;
  const flags = v.flags as bigint;
  if (flags & ~BigInt(VCPU_PARKED)) {
    throw new FormatError(FORMAT, `${where}.flags`, 'unknown-flag', 'unknown vCPU flags set', flags.toString());
  }
  const cpu = nameOf(abi, 'cpu_kind', v.cpu as bigint, `${where}.cpu`) as CpuKind;
  if (cpu !== domainCpu) {
    throw new FormatError(FORMAT, `${where}.cpu`, 'cpu-mismatch', `vCPU state is ${cpu}, the domain's is ${domainCpu}`);
  }
  const devices = {
    reportLatch: Number(v.report_latch as bigint),
    haltPeriodUs: Number(v.halt_period_us as bigint),
    deviceLast: (v.device_last as bigint[]).map(Number),
  };
  // The part of the other CPU kind must be zero: a stray byte there is corruption.
  const unused = cpu === 'kvm' ? ['sim'] : ['kvm_regs', 'kvm_sregs'];
  for (const f of unused) {
    if (!zero(v[f] as FieldLike)) {
      throw new FormatError(FORMAT, `${where}.${f}`, 'unused-nonzero', `a ${cpu} vCPU leaves ${f} zero`);
    }
  }
  if (cpu === 'kvm') {
    return {
      vcpu,
      parked: flags !== 0n,
      devices,
      cpu: { kind: 'kvm', regs: v.kvm_regs as bigint[], sregs: v.kvm_sregs as Uint8Array },
    };
  }
  const s = v.sim as StructValue;
  const started = s.started as bigint;
  if (started > 1n)
    throw new FormatError(FORMAT, `${where}.sim.started`, 'not-boolean', 'must be 0 or 1', started.toString());
  const phase = s.phase as bigint;
  nameOf(abi, 'sim_phase', phase, `${where}.sim.phase`);
  const sim = { started: started === 1n, steps: 0 } as SimCpuState;
  for (const [key, field] of SIM_FIELDS) sim[key] = Number(s[field] as bigint);
  const steps = s.steps as bigint;
  if (steps > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatError(FORMAT, `${where}.sim.steps`, 'out-of-range', 'too large', steps.toString());
  }
  sim.steps = Number(steps);
  return { vcpu, parked: flags !== 0n, devices, cpu: { kind: 'sim', sim } };
}
