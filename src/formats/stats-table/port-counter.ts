/**
 * Counts port I/O per port in a vCPU's `ports` group (rev ≥ 4): a port takes the next unused
 * slot on its first access; when every slot holds another port, the access is not counted here
 * (the io group still counts it).
 */
import { UsageError } from '../../errors.ts';
import type { GroupModel } from './model.ts';
import { MAX_PORT, portSlots, UNUSED_PORT } from './ports.ts';

/**
 * What a port counter needs of a group's writer (GroupWriter has it): named here so that this
 * module does not import the writer, which imports it.
 */
export interface PortGroup {
  readonly model: GroupModel;
  counter(name: string): number;
  get(id: number): bigint;
  set(id: number, value: bigint | number): void;
  add(id: number, n?: number): void;
}

export class PortCounter<G extends PortGroup = PortGroup> {
  /** Counter ids of each slot's port word and accesses counter. */
  readonly #slots: { port: number; accesses: number }[];
  /** Accesses counter id by port number, for the ports already given a slot. */
  readonly #byPort = new Map<number, number>();
  #next = 0;

  /** Takes over the slots as they are in the table (so an attaching writer continues them). */
  constructor(readonly group: G) {
    this.#slots = portSlots(group.model).map((s) => ({
      port: group.counter(s.port.name),
      accesses: group.counter(s.accesses.name),
    }));
    for (const slot of this.#slots) {
      const port = group.get(slot.port);
      if (port === UNUSED_PORT || port > BigInt(MAX_PORT)) break;
      this.#byPort.set(Number(port), slot.accesses);
      this.#next++;
    }
  }

  /**
   * Counts `n` accesses to `port`; call between begin() and end() of the group (or inside
   * group.update). Returns false when the port has no slot and none is left.
   */
  count(port: number, n = 1): boolean {
    let id = this.#byPort.get(port);
    if (id === undefined) {
      if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) throw new UsageError(`not an I/O port: ${port}`);
      const slot = this.#slots[this.#next];
      if (!slot) return false;
      this.group.set(slot.port, port);
      id = slot.accesses;
      this.#byPort.set(port, id);
      this.#next++;
    }
    this.group.add(id, n);
    return true;
  }
}
