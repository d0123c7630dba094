/**
 * The invariant checker: attaches to a directory (live or captured) and reports every broken
 * rule as a Violation naming the field and the rule, instead of stopping at the first.
 *
 * Rules beyond the layout ones of layout.ts:
 *   reserved-nonzero        reserved and padding bytes of the header and of each entry are zero
 *   slack-nonzero           nothing is produced between the header and the entries, between
 *                           entry_size and entry_stride, or after the last entry
 *   domid0-used             entry 0 (domid 0 is "not a domain") stays all zero
 *   seq-odd                 an entry's sequence word never settled (odd at rest, or stuck)
 *   unstable                the scan spent its whole-read retry budget (many entries kept
 *                           changing or stayed odd): the scan stopped at that entry
 *   state-unknown           a state value this revision does not know (warning)
 *   never-used-with-data    a `none` entry holds a unique id, generation, flags or vCPUs
 *   unique-id-zero          a used entry has unique id 0
 *   generation-zero         a used entry has generation 0
 *   unique-id-duplicate     two entries hold the same unique id (ids never repeat on a host)
 *   flags-unknown           flag bits nobody knows, from a producer no newer than the checker
 * Two snapshots (`previous`):
 *   generation-decreased, reuse-without-generation (the unique id changed, the generation did
 *   not), generation-without-reuse (same unique id, new generation), resurrected (a destroyed
 *   domain's unique id back in another state), layout-changed.
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { FormatError, type Violation } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import {
  ADDRESSING_RULES,
  type DirectoryLayout,
  entryOffset,
  LAYOUT_FIELD_NAMES,
  layoutExtent,
  parseHeader,
  validateLayout,
} from './layout.ts';
import { directoryModel } from './model.ts';
import { type DirectoryEntry, type DirectoryReaderOptions, DomainDirectoryReader } from './reader.ts';

export interface DirectoryCheckOptions extends DirectoryReaderOptions {
  /** The result of an earlier check of the same directory: enables the two-snapshot rules. */
  previous?: Pick<DirectoryCheckResult, 'layout' | 'entries'>;
}

export interface DirectoryCheckResult {
  violations: Violation[];
  /** The producer's layout, when the header could be read. */
  layout?: DirectoryLayout;
  /** Used entries (state other than none, or torn), when the layout allowed reading them. */
  entries?: DirectoryEntry[];
}

function violation(
  field: string,
  rule: string,
  message: string,
  value?: string | number | bigint,
  severity: 'error' | 'warning' = 'error',
): Violation {
  return { field, rule, severity, message, ...(value === undefined ? {} : { value: String(value) }) };
}

function firstNonZero(bytes: Uint8Array, start: number, length: number): number {
  const end = Math.min(bytes.length, start + length);
  for (let i = Math.max(0, start); i < end; i++) if (bytes[i] !== 0) return i;
  return -1;
}

export function checkDomainDirectory(
  region: Region,
  abi: ResolvedAbi,
  options: DirectoryCheckOptions = {},
): DirectoryCheckResult {
  const model = directoryModel(abi);
  const bytes = region.bytes;
  if (bytes.length < model.minHeaderSize) {
    const message = `a directory needs ${model.minHeaderSize} bytes`;
    return { violations: [violation('region', 'region-too-short', message, bytes.length)] };
  }
  const layout = parseHeader(bytes.slice(0, model.minHeaderSize), model);
  const out = validateLayout(layout, model, bytes.length);
  if (out.some((v) => v.severity === 'error' && ADDRESSING_RULES.has(v.rule))) return { violations: out, layout };

  let reader: DomainDirectoryReader;
  try {
    reader = DomainDirectoryReader.open(region, abi, options);
  } catch (e) {
    if (e instanceof FormatError) return { violations: [...out, e.toViolation()], layout };
    throw e;
  }

  // The header's reserved bytes and the gap up to the entries: static, copied once.
  const headerCopy = bytes.slice(0, layout.entriesOffs);
  for (const z of model.headerZero) {
    if (z.offset >= layout.headerSize) continue;
    const at = firstNonZero(headerCopy, z.offset, Math.min(z.length, layout.headerSize - z.offset));
    if (at >= 0)
      out.push(violation(`header.${z.name}`, 'reserved-nonzero', 'reserved bytes must be zero', `byte ${at}`));
  }
  const gap = firstNonZero(headerCopy, layout.headerSize, layout.entriesOffs - layout.headerSize);
  if (gap >= 0)
    out.push(violation('header', 'slack-nonzero', 'nothing is produced before entries_offs', `byte ${gap}`));

  const entries: DirectoryEntry[] = [];
  const owners = new Map<bigint, number>();
  const flagsFromOlder = layout.revision !== 0 && layout.revision <= model.abi.revision;
  const budget = reader.readBudget(); // one bound for the whole scan, not only per entry
  for (let domid = 0; domid < reader.entries; domid++) {
    let read: { entry: DirectoryEntry; bytes: Uint8Array };
    try {
      read = reader.entryWithBytes(domid, budget);
    } catch (e) {
      if (!(e instanceof FormatError && e.rule === 'unstable')) throw e;
      out.push(e.toViolation());
      return { violations: out, layout, entries };
    }
    const { entry, bytes: copy } = read;
    const name = `entry[${domid}]`;
    if (entry.torn) {
      out.push(
        violation(`${name}.seq`, 'seq-odd', 'the sequence word never settled within the retry bound', entry.seq),
      );
      entries.push(entry);
      continue;
    }
    if (domid === 0) {
      const at = firstNonZero(copy, 0, copy.length);
      if (at >= 0)
        out.push(violation(name, 'domid0-used', 'domid 0 is not a domain: its entry stays zero', `byte ${at}`));
      continue;
    }
    for (const z of model.entryZero) {
      const at = firstNonZero(copy, z.offset, z.length);
      if (at >= 0) {
        out.push(violation(`${name}.${z.name}`, 'reserved-nonzero', 'reserved bytes must be zero', `byte ${at}`));
      }
    }
    if (entry.state === 'unknown') {
      const message = 'a state this revision does not know (a newer producer?)';
      out.push(violation(`${name}.state`, 'state-unknown', message, entry.stateValue, 'warning'));
    }
    if (entry.state === 'none') {
      if (entry.uniqueId !== 0n || entry.generation !== 0 || (entry.flags ?? 0) !== 0 || (entry.nrVcpus ?? 0) !== 0) {
        out.push(violation(name, 'never-used-with-data', 'an entry in state none holds nothing'));
      }
      continue;
    }
    entries.push(entry);
    if (entry.uniqueId === 0n)
      out.push(violation(`${name}.unique_id`, 'unique-id-zero', 'a used domid has a unique id'));
    if (entry.generation === 0) {
      out.push(violation(`${name}.generation`, 'generation-zero', 'a used domid has generation ≥ 1'));
    }
    const other = owners.get(entry.uniqueId);
    if (other !== undefined && entry.uniqueId !== 0n) {
      const message = `entry ${other} holds the same unique id: unique ids never repeat on a host`;
      out.push(violation(`${name}.unique_id`, 'unique-id-duplicate', message, entry.uniqueId));
    } else owners.set(entry.uniqueId, domid);
    const unknownFlags = (entry.flags ?? 0) & ~model.knownFlags;
    if (unknownFlags !== 0) {
      const message = flagsFromOlder ? 'flag bits nobody defines' : 'flag bits of a newer revision (ignored)';
      out.push(
        violation(
          `${name}.flags`,
          'flags-unknown',
          message,
          `0x${unknownFlags.toString(16)}`,
          flagsFromOlder ? 'error' : 'warning',
        ),
      );
    }
  }

  checkSlack(region, layout, reader.entries, out);
  if (options.previous?.entries && options.previous.layout) {
    for (const v of compareDirectories(options.previous.layout, options.previous.entries, layout, entries)) out.push(v);
  }
  return { violations: out, layout, entries };
}

/** Bytes between entry_size and entry_stride, and after the last entry, must be zero. */
function checkSlack(region: Region, layout: DirectoryLayout, nrEntries: number, out: Violation[]): void {
  const bytes = region.bytes;
  const slack = layout.entryStride - layout.entrySize;
  if (slack > 0) {
    for (let domid = 0; domid < nrEntries; domid++) {
      const copy = bytes.slice(entryOffset(layout, domid) + layout.entrySize, entryOffset(layout, domid + 1));
      const at = firstNonZero(copy, 0, copy.length);
      if (at >= 0) {
        out.push(violation(`entry[${domid}]`, 'slack-nonzero', 'nothing is produced past entry_size', `byte ${at}`));
        break;
      }
    }
  }
  const end = Math.min(layout.regionSize, bytes.length);
  const extent = layoutExtent(layout);
  if (end > extent) {
    const at = firstNonZero(bytes.slice(extent, end), 0, end - extent);
    if (at >= 0)
      out.push(violation('region', 'slack-nonzero', 'nothing is produced after the last entry', `byte ${extent + at}`));
  }
}

/** Two-snapshot rules: how a domid's entry may change between two reads. */
export function compareDirectories(
  previousLayout: DirectoryLayout,
  previous: readonly DirectoryEntry[],
  layout: DirectoryLayout,
  next: readonly DirectoryEntry[],
): Violation[] {
  const out: Violation[] = [];
  for (const key of Object.keys(layout) as (keyof DirectoryLayout)[]) {
    if (previousLayout[key] !== layout[key]) {
      const message = 'the header changed between snapshots';
      out.push(
        violation(`header.${LAYOUT_FIELD_NAMES[key]}`, 'layout-changed', message, String(layout[key]), 'warning'),
      );
      return out;
    }
  }
  const before = new Map(previous.filter((e) => !e.torn).map((e) => [e.domid, e]));
  for (const n of next) {
    const p = before.get(n.domid);
    if (!p || n.torn) continue;
    const name = `entry[${n.domid}]`;
    if (n.generation < p.generation) {
      const message = `the generation went down (${p.generation} → ${n.generation})`;
      out.push(violation(`${name}.generation`, 'generation-decreased', message, n.generation));
    } else if (n.uniqueId !== p.uniqueId && n.generation === p.generation) {
      const message = 'another domain holds the domid but the generation did not change';
      out.push(violation(`${name}.generation`, 'reuse-without-generation', message, n.generation));
    } else if (n.uniqueId === p.uniqueId && n.generation !== p.generation) {
      const message = 'the same domain cannot start a new generation of its domid';
      out.push(violation(`${name}.generation`, 'generation-without-reuse', message, n.generation));
    } else if (n.uniqueId === p.uniqueId && p.state === 'destroyed' && n.state !== 'destroyed') {
      const message = `a destroyed domain came back as ${n.state}`;
      out.push(violation(`${name}.state`, 'resurrected', message, n.state));
    }
  }
  return out;
}
