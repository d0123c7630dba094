/**
 * The `ports` vCPU group (since rev 4): port I/O counted per port in slots filled in order of
 * first use. Slot i is the pair `port<i>` (the port number; all ones = unused) and
 * `port<i>_accesses`. Rules: a used slot's port is ≤ 0xffff, and a used slot never follows an
 * unused one (so readers may stop at the first unused slot).
 */
import type { CounterModel, GroupModel } from './model.ts';

export const PORTS_GROUP = 'ports';
export const UNUSED_PORT = 2n ** 64n - 1n;
export const MAX_PORT = 0xffff;

export interface PortSlotModel {
  index: number;
  port: CounterModel;
  accesses: CounterModel;
}

/** The slots of a ports group, in slot order (pairs whose two words both exist). */
export function portSlots(group: GroupModel): PortSlotModel[] {
  const byName = new Map(group.counters.map((c) => [c.name, c]));
  const out: PortSlotModel[] = [];
  for (let i = 0; ; i++) {
    const port = byName.get(`port${i}`);
    const accesses = byName.get(`port${i}_accesses`);
    if (!port || !accesses) return out;
    out.push({ index: i, port, accesses });
  }
}
