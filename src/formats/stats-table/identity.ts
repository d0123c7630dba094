/**
 * The identity words (since rev 3): which domain a table belongs to and which process and fds
 * produce it. Domain words live in the domain header, vCPU words in each vCPU header; none is
 * under a sequence lock. Each is written once by its owner with a single atomic store (a u64
 * with one 64-bit store), so a reader sees either 0 ("not published") or the whole value.
 *
 * Encoding: fds are stored as fd + 1 so that 0 means "none"; every other word uses 0 for "not
 * published". Decoded, both are `undefined`, like a word the producer's revision lacks.
 *
 * The domain's name (since rev 5, name.ts) is no single word: it is written before the words of
 * the same call, so a reader that sees the domid published by that call sees the whole name.
 */
import { UsageError } from '../../errors.ts';
import type { DomIdentityField, TableModel, VcpuIdentityField, WordModel } from './model.ts';
import { decodeDomainName, encodeDomainName } from './name.ts';
import type { ProducerView } from './producer.ts';

export interface DomainIdentity {
  /** 1..32767; reused after the domain is destroyed. */
  domid?: number;
  /** Host-unique, never 0, never repeats (exact: it may exceed 2^53). */
  uniqueId?: bigint;
  ownerPid?: number;
  /** Start time of the owner process in clock ticks after boot (/proc/PID/stat field 22). */
  ownerStartTime?: bigint;
  /** The VM's KVM stats fd in the owner process. */
  vmStatsFd?: number;
  /** The domain's name (since rev 5); undefined when not published or not valid text. */
  name?: string;
}

export interface VcpuIdentity {
  /** The vCPU's KVM stats fd in the owner process. */
  kvmStatsFd?: number;
  /** Host thread id running the vCPU. */
  hostTid?: number;
}

/** What a writer publishes; a property left out is not written. `null` fds clear the word (no fd). */
export interface DomainIdentityInput {
  domid?: number;
  uniqueId?: bigint;
  ownerPid?: number;
  ownerStartTime?: bigint | number;
  vmStatsFd?: number | null;
  /** At most 15 bytes of UTF-8, no NUL or control character (rev ≥ 5); '' clears it. */
  name?: string;
}

export interface VcpuIdentityInput {
  kvmStatsFd?: number | null;
  hostTid?: number;
}

const U32_MAX = 0xffff_ffff;
const U64_MAX = 2n ** 64n - 1n;

type Encoder = (value: unknown) => bigint;

function u32(what: string, min: number, max = U32_MAX): Encoder {
  return (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new UsageError(`${what} must be an integer in ${min}..${max}, not ${String(v)}`);
    }
    return BigInt(v);
  };
}

function u64(what: string, min: bigint): Encoder {
  return (v) => {
    const b = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v;
    if (typeof b !== 'bigint' || b < min || b > U64_MAX) {
      throw new UsageError(`${what} must be an integer in ${min}..2^64-1, not ${String(v)}`);
    }
    return b;
  };
}

/** fd → fd + 1; null → 0 (none). */
function fd(what: string): Encoder {
  const check = u32(what, 0, U32_MAX - 1);
  return (v) => (v === null ? 0n : check(v) + 1n);
}

const DOM_WORDS: Record<Exclude<keyof DomainIdentityInput, 'name'>, { field: DomIdentityField; encode: Encoder }> = {
  domid: { field: 'domid', encode: u32('domid', 1, 32767) },
  uniqueId: { field: 'unique_id', encode: u64('uniqueId', 1n) },
  ownerPid: { field: 'owner_pid', encode: u32('ownerPid', 1) },
  ownerStartTime: { field: 'owner_start_time', encode: u64('ownerStartTime', 0n) },
  vmStatsFd: { field: 'vm_stats_fd', encode: fd('vmStatsFd') },
};

const VCPU_WORDS: Record<keyof VcpuIdentityInput, { field: VcpuIdentityField; encode: Encoder }> = {
  kvmStatsFd: { field: 'kvm_stats_fd', encode: fd('kvmStatsFd') },
  hostTid: { field: 'host_tid', encode: u32('hostTid', 1) },
};

export interface EncodedWord {
  word: WordModel;
  value: bigint;
}

/** Validates `input` against the model: every given property must be a word of this revision. */
function encode<I extends object, F extends string>(
  input: I,
  table: Record<string, { field: F; encode: Encoder }>,
  words: Partial<Record<F, WordModel>>,
  revision: number,
): EncodedWord[] {
  const out: EncodedWord[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const spec = table[key];
    if (!spec) throw new UsageError(`unknown identity property ${key}`);
    const word = words[spec.field];
    if (!word) {
      throw new UsageError(`stats-table revision ${revision} has no identity word ${spec.field} (added in rev 3)`);
    }
    out.push({ word, value: spec.encode(value) });
  }
  return out;
}

export interface EncodedDomainIdentity {
  words: EncodedWord[];
  /** The name field's bytes (NUL-padded to the field) and their offset in the domain block. */
  name?: { offset: number; bytes: Uint8Array };
}

export function encodeDomainIdentity(model: TableModel, input: DomainIdentityInput): EncodedDomainIdentity {
  const { name, ...words } = input;
  const out: EncodedDomainIdentity = { words: encode(words, DOM_WORDS, model.domIdentity, model.abi.revision) };
  if (name !== undefined) {
    const field = model.domName;
    if (!field) throw new UsageError(`stats-table revision ${model.abi.revision} has no name field (added in rev 5)`);
    out.name = { offset: field.offset, bytes: encodeDomainName(field, name) };
  }
  return out;
}

export function encodeVcpuIdentity(model: TableModel, input: VcpuIdentityInput): EncodedWord[] {
  return encode(input, VCPU_WORDS, model.vcpuIdentity, model.abi.revision);
}

/** Reads word `name` of a block copy, or undefined when consumer or producer lacks it or it is 0. */
function wordReader<F extends string>(
  view: DataView,
  blockStart: number,
  consumerWords: Partial<Record<F, WordModel>>,
  producerWords: Partial<Record<F, WordModel>> | undefined,
) {
  return (name: F): bigint | undefined => {
    const w = consumerWords[name];
    if (!w || (producerWords && !producerWords[name])) return undefined;
    const at = blockStart + w.offset;
    if (at + w.size > view.byteLength) return undefined;
    const v = w.size === 4 ? BigInt(view.getUint32(at, true)) : view.getBigUint64(at, true);
    return v === 0n ? undefined : v;
  };
}

const num = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));
const fdOf = (v: bigint | undefined) => (v === undefined ? undefined : Number(v) - 1);

/** Only the properties that are present, so `{}` means "nothing published". */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The domain identity from a private copy of the region (`bytes` starts at the region's start). */
export function decodeDomainIdentity(bytes: Uint8Array, consumer: TableModel, producer: ProducerView): DomainIdentity {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = wordReader(view, 0, consumer.domIdentity, producer.newer ? undefined : producer.model.domIdentity);
  const field = consumer.domName;
  const named = field !== undefined && (producer.newer || producer.model.domName !== undefined);
  return defined({
    domid: num(get('domid')),
    uniqueId: get('unique_id'),
    ownerPid: num(get('owner_pid')),
    ownerStartTime: get('owner_start_time'),
    vmStatsFd: fdOf(get('vm_stats_fd')),
    name: named ? decodeDomainName(bytes, field.offset, field.length).name : undefined,
  });
}

/** The identity of the vCPU block at `blockStart` of a private copy of the region. */
export function decodeVcpuIdentity(
  bytes: Uint8Array,
  blockStart: number,
  consumer: TableModel,
  producer: ProducerView,
): VcpuIdentity {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = wordReader(
    view,
    blockStart,
    consumer.vcpuIdentity,
    producer.newer ? undefined : producer.model.vcpuIdentity,
  );
  return defined({ kvmStatsFd: fdOf(get('kvm_stats_fd')), hostTid: num(get('host_tid')) });
}
