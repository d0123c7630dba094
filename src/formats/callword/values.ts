/**
 * The u64 value vectors of the domain and lifecycle calls (schemas/call-word, enum docs):
 *   domain info:       [domid, unique_id, generation, state, vcpus, memory_mib, workload, name0, name1]
 *   get_domain_state:  [domid, state, unique_id, generation]   (domid 0 = no change)
 * A domain name (≤ 15 bytes of UTF-8) travels as 16 NUL-padded bytes in two little-endian u64.
 */
import { FormatError } from '../../errors.ts';
import { DOMAIN_STATE, WORKLOAD } from './constants.ts';

export type DomainStateName = keyof typeof DOMAIN_STATE;
export type WorkloadName = keyof typeof WORKLOAD;

export interface DomainInfoValues {
  domid: number;
  uniqueId: bigint;
  generation: number;
  state: DomainStateName;
  vcpus: number;
  memoryMiB: number;
  workload: WorkloadName;
  name: string;
}

export interface DomainStateValues {
  domid: number;
  state: DomainStateName;
  uniqueId: bigint;
  generation: number;
}

export const NAME_BYTES = 16;
export const DOMAIN_INFO_VALUES = 9;

function valuesError(field: string, rule: string, message: string, value?: bigint | number): FormatError {
  return new FormatError('call-word values', field, rule, message, value === undefined ? undefined : String(value));
}

/** Two u64 holding a name of at most 15 bytes of UTF-8 (NUL-padded). */
export function packName(name: string): [bigint, bigint] {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length >= NAME_BYTES) throw valuesError('name', 'name-length', `at most ${NAME_BYTES - 1} bytes of UTF-8`);
  if (bytes.includes(0)) throw valuesError('name', 'name-nul', 'a name holds no NUL byte');
  const buf = Buffer.alloc(NAME_BYTES);
  bytes.copy(buf);
  return [buf.readBigUInt64LE(0), buf.readBigUInt64LE(8)];
}

/** The name in two u64: bytes up to the first NUL, which must be followed by NULs only, valid UTF-8. */
export function unpackName(lo: bigint, hi: bigint): string {
  const buf = Buffer.alloc(NAME_BYTES);
  buf.writeBigUInt64LE(lo & 0xffff_ffff_ffff_ffffn, 0);
  buf.writeBigUInt64LE(hi & 0xffff_ffff_ffff_ffffn, 8);
  const end = buf.indexOf(0);
  const len = end < 0 ? NAME_BYTES : end;
  if (len === NAME_BYTES) throw valuesError('name', 'name-nul', 'a name ends with a NUL within 16 bytes');
  if (buf.subarray(len).some((b) => b !== 0))
    throw valuesError('name', 'name-padding', 'bytes after the NUL must be zero');
  const bytes = buf.subarray(0, len);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw valuesError('name', 'name-utf8', 'a name is UTF-8');
  return text;
}

function nameOf<T extends Record<string, number>>(table: T, field: string, code: bigint): keyof T & string {
  for (const [name, value] of Object.entries(table)) if (BigInt(value) === code) return name as keyof T & string;
  throw valuesError(field, 'enum', 'unknown value', code);
}

function small(field: string, v: bigint | undefined, max: number): number {
  if (v === undefined) throw valuesError(field, 'present', 'value missing');
  if (v > BigInt(max)) throw valuesError(field, 'range', `at most ${max}`, v);
  return Number(v);
}

export function encodeDomainInfo(info: DomainInfoValues): bigint[] {
  const [n0, n1] = packName(info.name);
  return [
    BigInt(info.domid),
    info.uniqueId,
    BigInt(info.generation),
    BigInt(DOMAIN_STATE[info.state]),
    BigInt(info.vcpus),
    BigInt(info.memoryMiB),
    BigInt(WORKLOAD[info.workload]),
    n0,
    n1,
  ];
}

export function decodeDomainInfo(values: readonly bigint[]): DomainInfoValues {
  if (values.length < DOMAIN_INFO_VALUES) {
    throw valuesError('values', 'count', `a domain info has ${DOMAIN_INFO_VALUES} values`, values.length);
  }
  return {
    domid: small('domid', values[0], 0xffff_ffff),
    uniqueId: values[1]!,
    generation: small('generation', values[2], 0xffff_ffff),
    state: nameOf(DOMAIN_STATE, 'state', values[3]!),
    vcpus: small('vcpus', values[4], 0xffff_ffff),
    memoryMiB: small('memory_mib', values[5], 0xffff_ffff),
    workload: nameOf(WORKLOAD, 'workload', values[6]!),
    name: unpackName(values[7]!, values[8]!),
  };
}

/** [domid, state, unique_id, generation]; undefined for the "no change" answer (domid 0). */
export function decodeDomainState(values: readonly bigint[]): DomainStateValues | undefined {
  if (values.length < 4) throw valuesError('values', 'count', 'get_domain_state answers 4 values', values.length);
  const domid = small('domid', values[0], 0xffff_ffff);
  if (domid === 0) return undefined;
  return {
    domid,
    state: nameOf(DOMAIN_STATE, 'state', values[1]!),
    uniqueId: values[2]!,
    generation: small('generation', values[3], 0xffff_ffff),
  };
}

export function encodeDomainState(s: DomainStateValues | undefined): bigint[] {
  if (!s) return [0n, BigInt(DOMAIN_STATE.none), 0n, 0n];
  return [BigInt(s.domid), BigInt(DOMAIN_STATE[s.state]), s.uniqueId, BigInt(s.generation)];
}
