/**
 * Test inputs for the KVM stats format: a raw byte crafter that can express
 * any header/descriptor (valid or not), independent of the writer, and the
 * real x86 vCPU layout served by the kernel on the development machine.
 */
import type { StatsSource } from '../../src/formats/kvm-stats/index.ts';
import { StatBase, StatType, StatUnit } from '../../src/formats/kvm-stats/index.ts';
import type { KvmStatDefinition } from '../support/kvm-stats-writer.ts';

export interface RawDesc {
  flags?: number;
  exponent?: number;
  size?: number;
  /** Default: packed after the previous descriptor's items. */
  offset?: number;
  bucketSize?: number;
  /** A string gets a NUL appended when it fits; bytes are copied as given. */
  name?: string | Uint8Array;
}

export interface RawFile {
  flags?: number;
  nameSize?: number;
  /** Default: descs.length. */
  numDesc?: number;
  idOffset?: number;
  descOffset?: number;
  dataOffset?: number;
  id?: string | Uint8Array;
  descs?: RawDesc[];
  /** u64 data items from data_offset; default zeros covering every descriptor. */
  data?: bigint[];
  /** Truncate or extend the output to this many bytes. */
  totalSize?: number;
}

/** Builds bytes in the kernel's layout unless a field overrides it. */
export function craft(f: RawFile = {}): Uint8Array {
  const nameSize = f.nameSize ?? 48;
  const descs = f.descs ?? [{ name: 'exits' }];
  const stride = 16 + nameSize;
  const idOffset = f.idOffset ?? 24;
  const descOffset = f.descOffset ?? 24 + nameSize;
  const dataOffset = f.dataOffset ?? descOffset + descs.length * stride;
  let next = 0;
  const placed = descs.map((d) => {
    const size = d.size ?? 1;
    const offset = d.offset ?? next;
    next = Math.max(next, offset + size * 8);
    return { ...d, size, offset };
  });
  const dataWords = f.data?.length ?? Math.ceil(next / 8);
  const natural = Math.max(dataOffset + dataWords * 8, idOffset + nameSize, descOffset + descs.length * stride, 24);
  const total = f.totalSize ?? natural;
  const bytes = new Uint8Array(Math.max(total, natural));
  const v = new DataView(bytes.buffer);
  v.setUint32(0, f.flags ?? 0, true);
  v.setUint32(4, nameSize, true);
  v.setUint32(8, f.numDesc ?? descs.length, true);
  v.setUint32(12, idOffset, true);
  v.setUint32(16, descOffset, true);
  v.setUint32(20, dataOffset, true);
  putString(bytes, idOffset, f.id ?? 'kvm-2023/vcpu-0', nameSize);
  placed.forEach((d, i) => {
    const at = descOffset + i * stride;
    v.setUint32(at, d.flags ?? 0, true);
    v.setInt16(at + 4, d.exponent ?? 0, true);
    v.setUint16(at + 6, d.size, true);
    v.setUint32(at + 8, d.offset, true);
    v.setUint32(at + 12, d.bucketSize ?? 0, true);
    putString(bytes, at + 16, d.name ?? `stat_${i}`, nameSize);
  });
  (f.data ?? []).forEach((x, i) => {
    v.setBigUint64(dataOffset + i * 8, x, true);
  });
  return bytes.subarray(0, total);
}

function putString(bytes: Uint8Array, at: number, s: string | Uint8Array, room: number) {
  const raw = typeof s === 'string' ? Uint8Array.from(s, (c) => c.charCodeAt(0)) : s;
  bytes.set(raw.subarray(0, Math.min(raw.length, room, bytes.length - at)), at);
  // a string without room for its NUL stays unterminated on purpose
}

/** A source with no known size, like a live stats fd. */
export function sizelessSource(bytes: Uint8Array): StatsSource {
  return {
    read(buf, position) {
      if (position >= bytes.length) return 0;
      const n = Math.min(buf.length, bytes.length - position);
      buf.set(bytes.subarray(position, position + n));
      return n;
    },
  };
}

/** Wraps a source and records the length of every read, to bound what a reader allocates. */
export function recordingSource(inner: StatsSource): StatsSource & { lengths: number[] } {
  const lengths: number[] = [];
  return {
    lengths,
    size: inner.size,
    read(buf, position) {
      lengths.push(buf.length);
      return inner.read(buf, position);
    },
  };
}

const C = StatType.Cumulative;
const counter = (name: string): KvmStatDefinition => ({ name, type: C });
const nsec = (name: string): KvmStatDefinition => ({ name, type: C, unit: StatUnit.Seconds, exponent: -9 });
const nsecLogHist = (name: string): KvmStatDefinition => ({
  name,
  type: StatType.LogHist,
  unit: StatUnit.Seconds,
  exponent: -9,
  size: 32,
});
const iboolean = (name: string): KvmStatDefinition => ({
  name,
  type: StatType.Instant,
  unit: StatUnit.Boolean,
  base: StatBase.Pow10,
});

/** The 45 vCPU stats (in order) an x86-64 kernel of this machine serves: generic ones, then x86 ones. */
export const REAL_VCPU_STATS: KvmStatDefinition[] = [
  counter('halt_successful_poll'),
  counter('halt_attempted_poll'),
  counter('halt_poll_invalid'),
  counter('halt_wakeup'),
  nsec('halt_poll_success_ns'),
  nsec('halt_poll_fail_ns'),
  nsec('halt_wait_ns'),
  nsecLogHist('halt_poll_success_hist'),
  nsecLogHist('halt_poll_fail_hist'),
  nsecLogHist('halt_wait_hist'),
  iboolean('blocking'),
  ...[
    'pf_taken',
    'pf_fixed',
    'pf_emulate',
    'pf_spurious',
    'pf_fast',
    'pf_mmio_spte_created',
    'pf_guest',
    'tlb_flush',
    'invlpg',
    'exits',
    'io_exits',
    'mmio_exits',
    'signal_exits',
    'irq_window_exits',
    'nmi_window_exits',
    'l1d_flush',
    'halt_exits',
    'request_irq_exits',
    'irq_exits',
    'host_state_reload',
    'fpu_reload',
    'insn_emulation',
    'insn_emulation_fail',
    'hypercalls',
    'irq_injections',
    'nmi_injections',
    'req_event',
    'nested_run',
    'directed_yield_attempted',
    'directed_yield_successful',
    'preemption_reported',
    'preemption_other',
  ].map(counter),
  iboolean('guest_mode'),
  counter('notify_window_exits'),
];
