/**
 * The identity words of an hvkit stats table (rev 3+): which domain it describes (domid, unique
 * id), which process owns it (pid + start time) and which of that process's fds are the KVM stats
 * fds of the VM and of each vCPU (stored as fd + 1, 0 = none).
 *
 * Offsets come from the consumer's ABI by field name; a word past the producer's block size
 * (an older producer) is absent (undefined), not zero. Decoded from a private copy of the table,
 * never from the live region.
 */
import { findField, findStruct, type ResolvedAbi } from '../abi/resolved.ts';
import { blockOffset, type TableLayout } from '../formats/stats-table/layout.ts';

export interface DomainIdentity {
  domid?: number;
  ownerPid?: number;
  /** The VM's KVM stats fd in the owner process (already minus one); undefined when none. */
  vmStatsFd?: number;
  uniqueId?: bigint;
  ownerStartTime?: bigint;
}

export interface VcpuIdentity {
  index: number;
  /** The vCPU's KVM stats fd in the owner process (already minus one); undefined when none. */
  kvmStatsFd?: number;
  hostTid?: number;
}

export interface TableIdentity {
  dom: DomainIdentity;
  vcpus: VcpuIdentity[];
}

interface WordAt {
  offset: number;
  size: 4 | 8;
}

interface IdentityOffsets {
  dom: Partial<Record<'domid' | 'owner_pid' | 'vm_stats_fd' | 'unique_id' | 'owner_start_time', WordAt>>;
  vcpu: Partial<Record<'kvm_stats_fd' | 'host_tid', WordAt>>;
}

const cache = new WeakMap<ResolvedAbi, IdentityOffsets>();

/** Where the identity words are in this revision (fields the revision lacks are left out). */
export function identityOffsets(abi: ResolvedAbi): IdentityOffsets {
  const hit = cache.get(abi);
  if (hit) return hit;
  const pick = <K extends string>(struct: string, names: readonly K[]) => {
    const out: Partial<Record<K, WordAt>> = {};
    const s = findStruct(abi, struct);
    for (const name of names) {
      const f = s && findField(s, name);
      if (f && f.kind === 'int' && (f.size === 4 || f.size === 8)) out[name] = { offset: f.offset, size: f.size };
    }
    return out;
  };
  const offsets: IdentityOffsets = {
    dom: pick('dom', ['domid', 'owner_pid', 'vm_stats_fd', 'unique_id', 'owner_start_time'] as const),
    vcpu: pick('vcpu', ['kvm_stats_fd', 'host_tid'] as const),
  };
  cache.set(abi, offsets);
  return offsets;
}

/** Decodes the identity words from a copy of the table (`bytes` starts at the domain block). */
export function readTableIdentity(bytes: Uint8Array, layout: TableLayout, abi: ResolvedAbi): TableIdentity {
  const offsets = identityOffsets(abi);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (base: number, limit: number, at: WordAt | undefined): bigint | undefined => {
    if (!at || at.offset + at.size > limit || base + at.offset + at.size > bytes.length) return undefined;
    return at.size === 4 ? BigInt(view.getUint32(base + at.offset, true)) : view.getBigUint64(base + at.offset, true);
  };
  const small = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));
  const fdPlusOne = (v: bigint | undefined) => (v === undefined || v === 0n ? undefined : Number(v) - 1);
  const d = offsets.dom;
  const dom: DomainIdentity = {};
  const put = <K extends keyof DomainIdentity>(key: K, value: DomainIdentity[K] | undefined) => {
    if (value !== undefined) dom[key] = value;
  };
  put('domid', small(word(0, layout.domSize, d.domid)));
  put('ownerPid', small(word(0, layout.domSize, d.owner_pid)));
  put('vmStatsFd', fdPlusOne(word(0, layout.domSize, d.vm_stats_fd)));
  put('uniqueId', word(0, layout.domSize, d.unique_id));
  put('ownerStartTime', word(0, layout.domSize, d.owner_start_time));
  const vcpus: VcpuIdentity[] = [];
  for (let i = 0; i < layout.nrVcpus; i++) {
    const base = blockOffset(layout, 'vcpu', i);
    const v: VcpuIdentity = { index: i };
    const fd = fdPlusOne(word(base, layout.vcpuSize, offsets.vcpu.kvm_stats_fd));
    const tid = small(word(base, layout.vcpuSize, offsets.vcpu.host_tid));
    if (fd !== undefined) v.kvmStatsFd = fd;
    if (tid !== undefined && tid !== 0) v.hostTid = tid;
    vcpus.push(v);
  }
  return { dom, vcpus };
}
