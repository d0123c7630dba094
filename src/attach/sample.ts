/**
 * One sample of every VM on the host (hvkit's own domains and VMs of other VMMs), with their
 * VM-level and per-vCPU statistics and the lifecycle events seen since the previous sample: what
 * an AttachSession (session.ts) produces and every observer consumes — `hvkit top` computes
 * rates, sparklines and percentiles from consecutive samples; an exporter renders one as it is.
 */
import type { FieldId } from '../formats/stats-table/model.ts';
import type { HistogramKind } from '../stats/histogram.ts';
import type { UnitScale } from '../stats/units.ts';

/**
 * Immutable: an AttachSession hands out the same StatSample object in consecutive samples while
 * its value (or every bucket) is unchanged, and the same `vm` / `stats` lists and VcpuSample
 * objects while all their samples are, so an idle VM costs no allocation per stat. Observers
 * compare and keep samples freely but must never mutate one, its buckets, or those lists.
 */
export interface StatSample {
  /** Stable within a VM, e.g. "exits" or "vmm.exit_latency_hist". */
  name: string;
  /** counter: only grows (rates are shown); gauge: instant or peak value; histogram: buckets. */
  kind: 'counter' | 'gauge' | 'histogram';
  unit: UnitScale;
  /** Where the number comes from: the kernel's KVM stats or hvkit's VMM counters. */
  origin: 'kvm' | 'vmm';
  /**
   * VMM counters: which stats-table field this is, the same in every revision (a renamed field or
   * group keeps it). The kernel's stats have none: their name is their identity.
   */
  field?: FieldId;
  /**
   * One line saying what the number is, for exporters' HELP: the stats-table schema's doc of a
   * VMM counter; for a KVM stat, what its descriptor says (the kernel has no prose).
   */
  help?: string;
  value?: bigint;
  buckets?: bigint[];
  histogram?: { kind: HistogramKind; bucketSize: number };
}

export interface VcpuSample {
  index: number;
  stats: StatSample[];
}

export type VmOwner = 'hvkit' | 'other';
export type StatsSourceKind = 'kvm-stats-fd' | 'stats-table' | 'debugfs' | 'none';

export interface VmSample {
  /**
   * Identity across samples: a restarted VM (or a reused pid or domid) gets a new key.
   * E.g. `pid:<pid>:<start time>:<stats id>` or `hvkit:<unique id hex>`.
   */
  key: string;
  name: string;
  pid: number;
  /**
   * Monotonic time (process.hrtime.bigint()) at which this VM's stats were read. Rates use it, not
   * the host sample's time: reading a host's VMs (and rescanning /proc first) takes time, more on
   * a loaded machine, and a counter divided by the wrong interval reads above 100% busy.
   */
  at?: bigint;
  owner: VmOwner;
  domid?: number;
  uniqueId?: bigint;
  /** Where the statistics came from, e.g. ['stats-table', 'kvm-stats-fd']. */
  sources: StatsSourceKind[];
  /** Why a source is missing or degraded, e.g. "QEMU holds no stats fd; debugfs not mounted". */
  note?: string;
  vm: StatSample[];
  vcpus: VcpuSample[];
}

export type LifecycleKind = 'created' | 'destroyed' | 'domid-reused' | 'shutdown' | 'appeared' | 'vanished';

export interface LifecycleEvent {
  /** Milliseconds since the epoch. */
  at: number;
  kind: LifecycleKind;
  vmKey: string;
  text: string;
}

export interface HostSample {
  /** Monotonic time of the sample in nanoseconds (process.hrtime.bigint()). */
  at: bigint;
  vms: VmSample[];
  events: LifecycleEvent[];
}

export interface SampleSource {
  sample(): HostSample;
  close(): void;
}
