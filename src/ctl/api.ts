/**
 * Typed tool-side calls over a CtlClient: each sends call words and decodes the values. A call the
 * host answers with an error status throws CallFailed (naming the call and the status).
 */

import type { CallerKind } from '../calls/dispatcher.ts';
import { type ErrorKind, HvkitError } from '../errors.ts';
import { fromBitset256 } from '../formats/callword/bitset.ts';
import {
  CORE_CALL,
  CREATE_FLAG,
  DOMAIN_CALL,
  FAMILY,
  LIFECYCLE_CALL,
  QUERY_FLAG,
  STATUS,
  type StatusName,
  statusName,
  WORKLOAD,
} from '../formats/callword/constants.ts';
import {
  type DomainInfoValues,
  type DomainStateValues,
  decodeDomainInfo,
  decodeDomainState,
  packName,
  type WorkloadName,
} from '../formats/callword/values.ts';
import { callWord, decodeCallWord } from '../formats/callword/word.ts';
import { peerText } from '../peer-text.ts';
import { DEFAULT_MAX_GUEST_MEMORY_MIB } from '../vmm/domain-options.ts';
import { MAX_GUEST_VCPUS } from '../vmm/guest-abi.ts';
import type { CallResult } from './client.ts';
import { callName } from './names.ts';

/**
 * A domain's info as the host answered it, its name made printable: the name comes from the host
 * (well-formed UTF-8, but not necessarily free of control characters) and ctl prints it.
 */
function domainInfoFrom(values: readonly bigint[]): DomainInfoValues {
  const info = decodeDomainInfo([...values]);
  return { ...info, name: peerText(info.name, 64) };
}

/** Anything that can make a call: a CtlClient, or a test's in-process adapter. */
export interface Caller {
  call(word: number, args?: readonly bigint[]): Promise<CallResult>;
}

/** What each error status tells the caller to do (see ErrorKind): the CLI's exit code follows. */
const KIND_OF_STATUS: Record<StatusName, ErrorKind> = {
  ok: 'internal',
  unknownFamily: 'usage',
  unknownCall: 'usage',
  reservedBits: 'usage',
  badArgument: 'usage',
  notPermitted: 'usage',
  badFrame: 'usage',
  busy: 'environment',
  notSupported: 'environment',
  noResources: 'environment',
  noSuchDomain: 'refused',
  invalidState: 'refused',
  internalError: 'internal',
};

/** The host answered a call with an error status; `detail` says what the caller sent, when known. */
export class CallFailed extends HvkitError {
  override readonly name = 'CallFailed';
  readonly kind: ErrorKind;
  constructor(
    readonly call: string,
    readonly status: number,
    detail?: string,
  ) {
    super(`${call}: ${statusName(status)}${detail ? `: ${detail}` : ''}`);
    const key = (Object.keys(STATUS) as StatusName[]).find((k) => STATUS[k] === status);
    this.kind = key ? KIND_OF_STATUS[key] : 'internal';
  }
}

export async function mustCall(c: Caller, word: number, args: readonly bigint[] = []): Promise<bigint[]> {
  const r = await c.call(word, args);
  if (r.status !== STATUS.ok) {
    const w = decodeCallWord(word);
    throw new CallFailed(callName(w.family, w.call), r.status);
  }
  return r.values;
}

export interface CallSupport {
  word: number;
  name: string;
  supported: boolean;
  callers: CallerKind[];
  /** Annotation bits the call honours. */
  annotations: number;
}

export async function abiVersion(c: Caller): Promise<{ major: number; revision: number }> {
  const [major, revision] = await mustCall(c, callWord(FAMILY.core, CORE_CALL.abiVersion));
  return { major: Number(major ?? 0n), revision: Number(revision ?? 0n) };
}

export async function queryCall(c: Caller, word: number): Promise<CallSupport> {
  const [flags = 0n, annotations = 0n] = await mustCall(c, callWord(FAMILY.core, CORE_CALL.queryCall), [BigInt(word)]);
  const w = decodeCallWord(word);
  const callers: CallerKind[] = [];
  if (flags & QUERY_FLAG.guest) callers.push('guest');
  if (flags & QUERY_FLAG.tool) callers.push('tool');
  return {
    word,
    name: callName(w.family, w.call),
    supported: (flags & QUERY_FLAG.supported) !== 0n,
    callers,
    annotations: Number(annotations),
  };
}

export async function families(c: Caller): Promise<number[]> {
  return fromBitset256(await mustCall(c, callWord(FAMILY.core, CORE_CALL.families)));
}

export async function callsOf(c: Caller, family: number): Promise<number[]> {
  return fromBitset256(await mustCall(c, callWord(FAMILY.core, CORE_CALL.calls), [BigInt(family)]));
}

/** Every call of the given families (default: every family served), with what it supports. */
export async function describeCalls(c: Caller, only?: readonly number[]): Promise<CallSupport[]> {
  const out: CallSupport[] = [];
  for (const family of only ?? (await families(c))) {
    for (const call of await callsOf(c, family)) out.push(await queryCall(c, callWord(family, call)));
  }
  return out;
}

export async function listDomains(c: Caller): Promise<DomainInfoValues[]> {
  const [count = 0n] = await mustCall(c, callWord(FAMILY.domain, DOMAIN_CALL.count));
  const out: DomainInfoValues[] = [];
  for (let i = 0n; i < count; i++) {
    const r = await c.call(callWord(FAMILY.domain, DOMAIN_CALL.get), [i]);
    // Domains destroyed since the count shorten the list: the end comes early.
    if (r.status === STATUS.badArgument) break;
    if (r.status !== STATUS.ok) throw new CallFailed('domain.get', r.status);
    out.push(domainInfoFrom(r.values));
  }
  return out;
}

/**
 * One domain's info: domain.info when the host serves it, else (an older or smaller host) found
 * by walking the list with count + get. Undefined when there is no such domain.
 */
export async function domainInfo(c: Caller, domid: number): Promise<DomainInfoValues | undefined> {
  const word = callWord(FAMILY.domain, DOMAIN_CALL.info);
  if ((await queryCall(c, word)).supported) {
    const r = await c.call(word, [BigInt(domid)]);
    if (r.status === STATUS.noSuchDomain) return undefined;
    if (r.status !== STATUS.ok) throw new CallFailed('domain.info', r.status);
    return domainInfoFrom(r.values);
  }
  return (await listDomains(c)).find((d) => d.domid === domid);
}

export interface CreateArgs {
  vcpus: number;
  memoryMiB: number;
  workload: WorkloadName;
  name?: string;
  paused?: boolean;
}

export async function createDomain(c: Caller, a: CreateArgs): Promise<DomainInfoValues> {
  const [n0, n1] = packName(a.name ?? '');
  const r = await c.call(callWord(FAMILY.domain, DOMAIN_CALL.create), [
    BigInt(a.vcpus),
    BigInt(a.memoryMiB),
    BigInt(WORKLOAD[a.workload]),
    a.paused ? CREATE_FLAG.paused : 0n,
    n0,
    n1,
  ]);
  if (r.status === STATUS.badArgument) {
    // The answer has no room for the host's reason: name the host's limits, the usual cause.
    throw new CallFailed(
      'domain.create',
      r.status,
      `the host refused --vcpus ${a.vcpus} --memory ${a.memoryMiB}: it allows 1..${MAX_GUEST_VCPUS} vCPUs and ` +
        `the guest memory its --max-guest-memory allows (default ${DEFAULT_MAX_GUEST_MEMORY_MIB} MiB)`,
    );
  }
  if (r.status !== STATUS.ok) throw new CallFailed('domain.create', r.status);
  return domainInfoFrom(r.values);
}

export type DomainOp = 'destroy' | 'pause' | 'unpause' | 'shutdown';

export async function domainOp(c: Caller, op: DomainOp, domid: number): Promise<DomainInfoValues> {
  return domainInfoFrom(await mustCall(c, callWord(FAMILY.domain, DOMAIN_CALL[op]), [BigInt(domid)]));
}

export async function subscribe(c: Caller): Promise<bigint> {
  const [handle] = await mustCall(c, callWord(FAMILY.lifecycle, LIFECYCLE_CALL.subscribe));
  return handle ?? 0n;
}

export async function getDomainState(c: Caller, handle: bigint): Promise<DomainStateValues | undefined> {
  return decodeDomainState(await mustCall(c, callWord(FAMILY.lifecycle, LIFECYCLE_CALL.getDomainState), [handle]));
}

export async function unsubscribe(c: Caller, handle: bigint): Promise<void> {
  await mustCall(c, callWord(FAMILY.lifecycle, LIFECYCLE_CALL.unsubscribe), [handle]);
}

/** Reads a subscription's changes until there are none (at most `limit`, default 32768). */
export async function drainChanges(c: Caller, handle: bigint, limit = 32768): Promise<DomainStateValues[]> {
  const out: DomainStateValues[] = [];
  while (out.length < limit) {
    const s = await getDomainState(c, handle);
    if (!s) break;
    out.push(s);
  }
  return out;
}
