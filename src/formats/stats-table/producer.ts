/**
 * What a consumer can know about the revision its producer was built from.
 *
 * Sizes alone do not tell revisions apart: a revision may only carve words out of reserved bytes
 * or padding (rev 3 did), leaving every size unchanged. The header's `revision` word does:
 *   - the consumer's own revision: the consumer's model describes the producer exactly;
 *   - an older frozen revision: its lock file (frozen before the consumer's) describes the
 *     producer exactly — a word carved after it is absent, its reserved bytes must be zero;
 *   - a newer revision, or 0 (an unfrozen working schema): the producer may have carved any
 *     reserved byte the consumer knows, so the consumer cannot judge those bytes.
 */
import { NoSuchRevisionError } from '../frozen-revisions.ts';
import { statsTableRevision } from './abi.ts';
import { type GroupModel, type TableModel, tableModel } from './model.ts';

export interface ProducerView {
  /** The producer may be newer than the consumer: reserved bytes the consumer knows may be carved. */
  newer: boolean;
  /** The producer's own model when known (same or older revision); the consumer's otherwise. */
  model: TableModel;
}

const frozen = new Map<number, TableModel | null>();

function frozenModel(revision: number): TableModel | null {
  let m = frozen.get(revision);
  if (m === undefined) {
    try {
      m = tableModel(statsTableRevision(revision));
    } catch (e) {
      if (!(e instanceof NoSuchRevisionError)) throw e;
      m = null; // a revision number no lock file has
    }
    frozen.set(revision, m);
  }
  return m;
}

/** The view a consumer built from `consumer` takes of a producer whose header says `revision`. */
export function producerView(consumer: TableModel, revision: number): ProducerView {
  const own = consumer.abi.revision;
  if (revision === own) return { newer: false, model: consumer };
  const olderFrozen = revision >= 1 && (own === 0 || revision < own);
  if (!olderFrozen) return { newer: true, model: consumer };
  const model = frozenModel(revision);
  if (model) return { newer: false, model };
  // No lock file has that revision: for a working-schema consumer it can only be a newer one;
  // below a frozen consumer's revision, the consumer's model is a safe subset of the rules.
  return { newer: own === 0, model: consumer };
}

/**
 * The producer's version of the consumer's group `group`, when the producer's revision has it.
 * Found by its bit, not its name: a group renamed since the producer's revision is the same group.
 */
export function producerGroup(view: ProducerView, group: GroupModel): GroupModel | undefined {
  if (group.scope === 'vcpu-arch') return view.model.vcpuArch;
  return view.model[group.scope].find((g) => g.bit === group.bit);
}
