/**
 * A made-up next stats-table revision that renames what tools read, the way a real one may
 * (`hvkit abi check` accepts renames with a warning):
 *   - vcpu_exits.io_exits becomes port_io_exits;
 *   - the vCPU group `vmm` becomes `timing` (same struct, same bit), and a counter `spare_ns` is
 *     carved out of that group's tail padding;
 *   - a counter named `io_exits` that means something else is carved out of the `io` group's tail
 *     padding (`io.io_exits`: it ends like the old name, in an unrelated group).
 * It renames and carves only, so every block keeps its size (a revision may not grow a struct and
 * rewrite it at once).
 */
import spec from '../../schemas/stats-table/schema.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import { type AbiSpec, counter, type FieldSpec, nested, type StructSpec } from '../../src/abi/schema.ts';
import { frozenStatsTableRevisions } from '../../src/formats/stats-table/abi.ts';

/** The number the renamed revision gets: the one after the newest frozen revision. */
export const RENAMED_REVISION = Math.max(...frozenStatsTableRevisions()) + 1;

function struct(s: AbiSpec, name: string): StructSpec {
  const found = s.structs.find((x) => x.name === name);
  if (!found) throw new TypeError(`no struct ${name} in the stats-table schema`);
  return found;
}

function replaceField(s: AbiSpec, structName: string, name: string, by: FieldSpec): void {
  const fields = struct(s, structName).fields;
  const i = fields.findIndex((f) => f.name === name);
  if (i < 0) throw new TypeError(`no field ${structName}.${name} in the stats-table schema`);
  fields[i] = by;
}

/** The schema of the renamed revision. */
export function renamedSpec(): AbiSpec {
  const s = structuredClone(spec) as AbiSpec;
  replaceField(s, 'vcpu_exits', 'io_exits', {
    ...counter('port_io_exits', 'Exits for port I/O.'),
    renamedFrom: ['io_exits'],
  });
  struct(s, 'vcpu_vmm').fields.push(counter('spare_ns', 'Carved out of the tail padding.'));
  replaceField(
    s,
    'vcpu',
    'vmm',
    nested('timing', 'vcpu_vmm', 'VMM view of the vCPU’s time.', { group: { bit: 3 }, renamedFrom: ['vmm'] }),
  );
  struct(s, 'vcpu_io').fields.push(counter('io_exits', 'Not VM exits: accesses the in-kernel devices answered.'));
  return s;
}

/** The renamed revision, frozen as RENAMED_REVISION. */
export function renamedRevision(): ResolvedAbi {
  return resolveAbi(renamedSpec(), RENAMED_REVISION);
}
