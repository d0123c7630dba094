/**
 * Lifecycle events derived by comparing consecutive samples:
 * - appeared / vanished: any VM first seen / gone. VMs present at the first sample are
 *   "appeared" (we did not see them being created); other VMMs' VMs always appear and vanish.
 * - created / destroyed: an hvkit domain that appears after the first sample, or vanishes.
 * - domid-reused: an hvkit domain whose host already had that domid with another unique id.
 */
import { uniqueIdHex } from '../shm/region-names.ts';
import type { LifecycleEvent } from './sample.ts';

export interface TrackedVm {
  key: string;
  name: string;
  owner: 'hvkit' | 'other';
  /** The host process (pid:start) of an hvkit domain. */
  host?: string;
  domid?: number;
  uniqueId?: bigint;
}

export class LifecycleTracker {
  #known = new Map<string, TrackedVm>();
  /** host:domid → unique id last seen there (kept after the domain is gone, to detect reuse). */
  #domids = new Map<string, bigint>();
  #first = true;

  /** Events between the previous call and this one; `now` is milliseconds since the epoch. */
  update(vms: readonly TrackedVm[], now: number): LifecycleEvent[] {
    const events: LifecycleEvent[] = [];
    const seen = new Set<string>();
    for (const vm of vms) {
      seen.add(vm.key);
      if (this.#known.has(vm.key)) continue;
      this.#known.set(vm.key, vm);
      const hvkit = vm.owner === 'hvkit' && vm.domid !== undefined && vm.uniqueId !== undefined;
      if (hvkit && !this.#first) {
        events.push({
          at: now,
          kind: 'created',
          vmKey: vm.key,
          text: `${vm.name} created (unique id ${uniqueIdHex(vm.uniqueId!)})`,
        });
      } else {
        events.push({ at: now, kind: 'appeared', vmKey: vm.key, text: `${vm.name} appeared` });
      }
      if (hvkit) {
        const slot = `${vm.host}:${vm.domid}`;
        const before = this.#domids.get(slot);
        if (before !== undefined && before !== vm.uniqueId) {
          events.push({
            at: now,
            kind: 'domid-reused',
            vmKey: vm.key,
            text: `domid ${vm.domid} reused: unique id ${uniqueIdHex(before)} → ${uniqueIdHex(vm.uniqueId!)}`,
          });
        }
        this.#domids.set(slot, vm.uniqueId!);
      }
    }
    for (const [key, vm] of this.#known) {
      if (seen.has(key)) continue;
      this.#known.delete(key);
      const destroyed = vm.owner === 'hvkit' && vm.domid !== undefined;
      events.push({
        at: now,
        kind: destroyed ? 'destroyed' : 'vanished',
        vmKey: key,
        text: `${vm.name} ${destroyed ? 'destroyed' : 'vanished'}`,
      });
    }
    this.#first = false;
    return events;
  }
}
