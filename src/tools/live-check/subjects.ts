/**
 * What `hvkit check --attach` checks, one thing at a time, sample after sample: a KVM stats fd
 * duplicated from a VMM, or one of an hvkit host's regions (a stats table, the domain directory).
 * Each subject keeps what it read last, so every sample is checked on its own (metadata rules,
 * values) and against the one before (counters that went down, metadata that changed).
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { type OpenedHvkitRegion, openRegionFile } from '../../attach/region-open.ts';
import { type TableIdentity, tableIdentity } from '../../attach/table-identity.ts';
import { identityMismatches, openTableRegion, type TableName } from '../../attach/tables.ts';
import { FormatError, type Violation } from '../../errors.ts';
import {
  checkDomainDirectory,
  type DirectoryCheckResult,
  shippedDomainDirectoryAbi,
} from '../../formats/domstate/index.ts';
import { checkProgress, checkUnchanged, checkValues } from '../../formats/kvm-stats/checker.ts';
import { inspectMetadata } from '../../formats/kvm-stats/inspect.ts';
import { KvmStatsReader } from '../../formats/kvm-stats/reader.ts';
import { fdSource, type StatsSource } from '../../formats/kvm-stats/source.ts';
import type { KvmStatsLayout } from '../../formats/kvm-stats/types.ts';
import { checkStatsTable, shippedStatsTableAbi } from '../../formats/stats-table/index.ts';
import type { DecodedTable } from '../../formats/stats-table/reader.ts';
import { close } from '../../os/libc.ts';

export type SubjectKind = 'vm-stats' | 'vcpu-stats' | 'stats-table' | 'domain-directory';

/** One thing checked sample after sample. */
export interface Subject {
  readonly kind: SubjectKind;
  /** Who it is, for output: "vm stats fd 12", "vcpu 0 stats fd 14", "table NAME". */
  readonly label: string;
  /** The violations of one more sample (the first sample also carries the metadata's). */
  sample(): Violation[];
  close(): void;
}

/**
 * A KVM stats fd duplicated into this process (we own `fd` and close it). The metadata is
 * inspected once, with every rule of api.rst and the kernel selftest; each sample then reads the
 * data block (values, counters against the previous sample) and the metadata again (it must not
 * change while the fd lives).
 */
export class KvmStatsSubject implements Subject {
  readonly #source: StatsSource;
  readonly #layout: KvmStatsLayout | undefined;
  readonly #reader: KvmStatsReader | undefined;
  #metadata: Violation[];
  #previous: BigUint64Array | undefined;
  #fd: number | undefined;

  constructor(
    readonly kind: 'vm-stats' | 'vcpu-stats',
    readonly label: string,
    fd: number,
  ) {
    this.#fd = fd;
    this.#source = fdSource(fd);
    const { findings, layout } = inspectMetadata(this.#source);
    this.#metadata = findings.map(({ fatal: _fatal, ...v }) => v);
    this.#layout = layout;
    this.#reader = layout ? new KvmStatsReader(this.#source, layout) : undefined;
  }

  /** Our duplicate of the stats fd (undefined once closed). */
  get fd(): number | undefined {
    return this.#fd;
  }

  /** The stats id ("kvm-PID", "kvm-PID/vcpu-N"), when the metadata could be read. */
  get id(): string | undefined {
    return this.#layout?.id;
  }

  sample(): Violation[] {
    const out = this.#metadata;
    this.#metadata = [];
    const layout = this.#layout;
    if (!layout || !this.#reader) return out;
    let values: BigUint64Array;
    try {
      values = this.#reader.readData().slice();
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      out.push(e.toViolation());
      return out;
    }
    out.push(...checkValues(layout, values));
    if (this.#previous) out.push(...checkProgress(layout, this.#previous, values));
    this.#previous = values;
    out.push(...checkUnchanged(layout, this.#source));
    return out;
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) close(fd);
  }
}

/**
 * A stats table of an hvkit host, opened as `hvkit top` opens it (no symlink, no FIFO, mapped only
 * when ours) and refused when its file is not owned by the user of the process its name names.
 * Besides every rule of the table checker, its identity words must agree with its name: a table
 * copied or written under another domain's name is a forgery.
 */
export class TableSubject implements Subject {
  readonly kind = 'stats-table';
  readonly label: string;
  readonly #opened: OpenedHvkitRegion;
  readonly #abi: ResolvedAbi;
  #previous: DecodedTable | undefined;

  /** The identity words as last read (undefined until a sample could decode the table). */
  get identity(): TableIdentity | undefined {
    return this.#previous ? tableIdentity(this.#previous) : undefined;
  }

  constructor(readonly table: TableName) {
    this.label = `table ${table.name}`;
    this.#abi = shippedStatsTableAbi();
    this.#opened = openTableRegion(table, this.#abi);
  }

  sample(): Violation[] {
    this.#opened.refresh();
    const result = checkStatsTable(this.#opened.region, this.#abi, this.#previous ? { previous: this.#previous } : {});
    const out = result.violations;
    if (result.table) {
      const mismatches = identityMismatches(this.table, tableIdentity(result.table));
      if (mismatches.length > 0) {
        out.push({
          field: 'dom.identity',
          rule: 'identity-mismatch',
          severity: 'error',
          message: `the identity words (${mismatches.join(', ')}) disagree with the file name (forged or copied table?)`,
        });
      }
      this.#previous = result.table;
    }
    return out;
  }

  close(): void {
    this.#opened.close();
  }
}

/** An hvkit host's domain directory, checked with the directory checker sample after sample. */
export class DirectorySubject implements Subject {
  readonly kind = 'domain-directory';
  readonly label: string;
  readonly #opened: OpenedHvkitRegion;
  readonly #abi: ResolvedAbi;
  #previous: DirectoryCheckResult | undefined;

  constructor(name: string) {
    this.label = `directory ${name}`;
    this.#abi = shippedDomainDirectoryAbi();
    const opened = openRegionFile(name);
    if (opened.format !== 'domain-directory') {
      opened.close();
      throw new FormatError(
        'domain-directory',
        'magic',
        'magic',
        `${opened.path} is not a domain directory (${opened.format})`,
      );
    }
    this.#opened = opened;
  }

  sample(): Violation[] {
    this.#opened.refresh();
    const result = checkDomainDirectory(
      this.#opened.region,
      this.#abi,
      this.#previous?.entries ? { previous: this.#previous } : {},
    );
    if (result.entries) this.#previous = result;
    return result.violations;
  }

  close(): void {
    this.#opened.close();
  }
}
