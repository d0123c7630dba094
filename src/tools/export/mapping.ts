/**
 * A host sample as Prometheus families: one series per VM stat and per vCPU stat of every VM the
 * attach session sees, labelled with the VM's identity, plus the exporter's own metrics.
 *
 * Labels: vm (name), vm_key (the attach session's identity: it changes when a VM is replaced,
 * even under a reused pid or domid), pid, domid and unique_id when known, vcpu on per-vCPU series.
 * The series of a VM that is gone are simply not in the next sample, so they leave the next
 * scrape; their state here is dropped with them.
 *
 * Resets: each counter or histogram series remembers its last value; when it goes down (a VMM
 * restarted its table, a reused stats fd) the series' start time moves to this sample, which
 * OpenMetrics shows as `_created`. The raw value is exported as it is: Prometheus' rate()
 * treats a decrease as a reset, so there is never a negative rate.
 *
 * Cardinality: per-vCPU series can be turned off, and at most `maxSeries` series are exported
 * (VM by VM in the session's order, VM-level stats first); the rest are counted in
 * hvkit_export_series_dropped_total{reason="limit"}. Two stats that map to one name with a
 * different type or unit (a different kernel or VMM revision) keep the first, and so do two stats
 * of one VM that map to the same series; the others count as reason="conflict".
 */
import type { HostSample, StatSample, VmSample } from '../../attach/sample.ts';
import type { Label, MetricFamily, MetricPoint } from '../../formats/exposition/model.ts';
import { FamilyCache, type FamilyDesc, type Scope } from './families.ts';

export interface MappingOptions {
  /** Per-vCPU series (default true). */
  vcpus?: boolean;
  /** At most this many series (default: no limit). */
  maxSeries?: number;
}

interface SeriesState {
  startMs: number;
  last?: bigint;
  lastBuckets?: readonly bigint[];
}

interface VmState {
  name: string;
  pid: number;
  labels: Label[];
  vcpuLabels: Label[][];
  vm: Map<FamilyDesc, SeriesState>;
  vcpu: Map<FamilyDesc, SeriesState[]>;
  seen: number;
}

export interface MappingResult {
  families: MetricFamily[];
  /** Series exported (VM and vCPU stats, not the exporter's own). */
  series: number;
}

export function vmLabels(v: VmSample): Label[] {
  const labels: Label[] = [
    ['vm', v.name],
    ['vm_key', v.key],
    ['pid', String(v.pid)],
  ];
  if (v.domid !== undefined) labels.push(['domid', String(v.domid)]);
  if (v.uniqueId !== undefined) labels.push(['unique_id', v.uniqueId.toString(16).padStart(16, '0')]);
  return labels;
}

function decreased(s: StatSample, state: SeriesState): boolean {
  if (s.value !== undefined) return state.last !== undefined && s.value < state.last;
  const before = state.lastBuckets;
  const now = s.buckets;
  if (!before || !now) return false;
  if (before.length !== now.length) return true;
  for (let i = 0; i < now.length; i++) if (now[i]! < before[i]!) return true;
  return false;
}

function sameFamilyShape(a: FamilyDesc, b: FamilyDesc): boolean {
  return (
    a.type === b.type &&
    a.unit === b.unit &&
    a.scale.base === b.scale.base &&
    a.scale.exponent === b.scale.exponent &&
    a.shape?.kind === b.shape?.kind &&
    (a.shape?.kind !== 'linear' || b.shape?.kind !== 'linear' || a.shape.bucketSize === b.shape.bucketSize)
  );
}

export class SampleMapper {
  readonly #cache = new FamilyCache();
  readonly #vms = new Map<string, VmState>();
  readonly #vcpus: boolean;
  readonly #maxSeries: number;
  #generation = 0;
  /** Cumulative, for hvkit_export_series_dropped_total. */
  droppedByLimit = 0n;
  droppedByConflict = 0n;

  constructor(options: MappingOptions = {}) {
    this.#vcpus = options.vcpus ?? true;
    const max = options.maxSeries ?? Number.POSITIVE_INFINITY;
    if (!(max >= 0)) throw new RangeError(`maxSeries must be ≥ 0: ${max}`);
    this.#maxSeries = max;
  }

  /** VMs whose state is kept (the VMs of the last sample). */
  get trackedVms(): number {
    return this.#vms.size;
  }

  map(sample: HostSample, atMs: number): MappingResult {
    const generation = ++this.#generation;
    const families = new Map<string, { family: MetricFamily; desc: FamilyDesc }>();
    let series = 0;
    let dropped = 0;
    let conflicts = 0;
    const family = (desc: FamilyDesc): MetricFamily | undefined => {
      const found = families.get(desc.name);
      if (found) {
        if (found.desc === desc || sameFamilyShape(found.desc, desc)) return found.family;
        return undefined;
      }
      const f: MetricFamily = { ...desc, points: [] };
      families.set(desc.name, { family: f, desc });
      return f;
    };
    const add = (s: StatSample, scope: Scope, labels: readonly Label[], state: SeriesState) => {
      if (s.value === undefined && s.buckets === undefined) return;
      if (series >= this.#maxSeries) {
        dropped++;
        return;
      }
      const f = family(this.#cache.get(s, scope));
      // Two stats of one VM or vCPU whose names differ only in characters a name cannot hold
      // ("a.b", "a_b") would be one series twice: the first stays. A VM's (or vCPU's) points of a
      // family are pushed together with its one shared label array, so the last point tells.
      if (!f || f.points.at(-1)?.labels === labels) {
        conflicts++;
        return;
      }
      if (s.kind !== 'gauge' && decreased(s, state)) state.startMs = atMs;
      const point: MetricPoint =
        s.buckets !== undefined
          ? { labels, histogram: { buckets: s.buckets }, startMs: state.startMs }
          : { labels, value: s.value!, startMs: state.startMs };
      state.last = s.value;
      state.lastBuckets = s.buckets;
      f.points.push(point);
      series++;
    };

    for (const v of sample.vms) {
      const vm = this.#vmState(v);
      vm.seen = generation;
      for (const s of v.vm) add(s, 'vm', vm.labels, this.#series(vm.vm, this.#cache.get(s, 'vm'), atMs));
      if (!this.#vcpus) continue;
      for (const c of v.vcpus) {
        const labels = this.#vcpuLabels(vm, c.index);
        for (const s of c.stats) {
          const desc = this.#cache.get(s, 'vcpu');
          let list = vm.vcpu.get(desc);
          if (!list) {
            list = [];
            vm.vcpu.set(desc, list);
          }
          let state = list[c.index];
          if (!state) {
            state = { startMs: atMs };
            list[c.index] = state;
          }
          add(s, 'vcpu', labels, state);
        }
      }
    }
    for (const [key, vm] of this.#vms) if (vm.seen !== generation) this.#vms.delete(key);
    this.droppedByLimit += BigInt(dropped);
    this.droppedByConflict += BigInt(conflicts);
    return { families: [...families.values()].map((f) => f.family), series };
  }

  #vmState(v: VmSample): VmState {
    let vm = this.#vms.get(v.key);
    if (vm && vm.name === v.name && vm.pid === v.pid) return vm;
    const labels = vmLabels(v);
    if (vm) {
      // Same VM, new name (a rename): same series state, new labels.
      vm.name = v.name;
      vm.pid = v.pid;
      vm.labels = labels;
      vm.vcpuLabels = [];
      return vm;
    }
    vm = { name: v.name, pid: v.pid, labels, vcpuLabels: [], vm: new Map(), vcpu: new Map(), seen: 0 };
    this.#vms.set(v.key, vm);
    return vm;
  }

  #vcpuLabels(vm: VmState, index: number): Label[] {
    let l = vm.vcpuLabels[index];
    if (!l) {
      l = [...vm.labels, ['vcpu', String(index)]];
      vm.vcpuLabels[index] = l;
    }
    return l;
  }

  #series(map: Map<FamilyDesc, SeriesState>, desc: FamilyDesc, atMs: number): SeriesState {
    let s = map.get(desc);
    if (!s) {
      s = { startMs: atMs };
      map.set(desc, s);
    }
    return s;
  }
}
