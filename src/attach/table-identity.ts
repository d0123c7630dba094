/**
 * The identity of an hvkit stats table (rev 3+): which domain it describes (domid, unique id,
 * name since rev 5), which process owns it (pid + start time) and which of that process's fds are
 * the KVM stats fds of the VM and of each vCPU.
 *
 * Decoded by the stats-table reader, so every revision is read by its own rules: a word or name
 * the producer's revision lacks, or that it has not published, is absent (undefined), not zero,
 * and a name that is not valid text is absent too.
 */
import type { DomainIdentity, VcpuIdentity as TableVcpuIdentity } from '../formats/stats-table/identity.ts';
import type { DecodedTable } from '../formats/stats-table/reader.ts';

export type { DomainIdentity };

export interface VcpuIdentity extends TableVcpuIdentity {
  index: number;
}

export interface TableIdentity {
  dom: DomainIdentity;
  vcpus: VcpuIdentity[];
}

/** The domain's and every vCPU's identity, from a decoded table. */
export function tableIdentity(table: DecodedTable): TableIdentity {
  return {
    dom: { ...table.identity },
    vcpus: table.vcpus.map((block) => ({ index: block.index, ...block.identity })),
  };
}
