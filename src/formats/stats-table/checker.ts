/**
 * The invariant checker: attaches to a region (live or captured) and reports every broken rule
 * of DESIGN §1 as a Violation naming the field and the rule, instead of stopping at the first.
 *
 * Rules beyond the layout ones of layout.ts:
 *   reserved-nonzero       reserved and padding bytes (header, vCPU header, inside groups) are zero,
 *                          by the producer's revision (producer.ts): identity words and counters
 *                          carved after it must still be zero; from a newer producer, which may
 *                          have carved any of them, they are not judged
 *   domid-out-of-range     a published domid is at most 32767 (other identity words are free-form)
 *   name-unterminated      the domain's name (rev ≥ 5) ends with a NUL inside its field
 *   name-bytes-after-nul   every byte of the name field after its first NUL is zero
 *   name-invalid-utf8      the name is valid UTF-8
 *   name-control-character the name holds no control character
 *   port-out-of-range      a used slot of the ports group holds a port number ≤ 0xffff
 *   port-slot-order        a used ports slot never follows an unused (all-ones) one
 *   slack-nonzero          nothing is produced outside a block's size (except its arch block)
 *   vcpu-magic, vcpu-id    every vCPU block starts with VCPU_MAGIC and its own index
 *   seq-odd                a group's sequence word never settled (odd at rest, or stuck)
 *   unstable               the snapshot spent its whole-read retry budget (many groups kept
 *                          changing or stayed odd): the read stopped there, nothing more judged
 *   active-bit-unproducible  an active group lies past the producer's block size
 *   active-bit-unknown     an active bit no group has, from a producer no newer than the checker
 *   inactive-group-data    a group whose active bit is clear holds data
 *   histogram-partially-inactive  some but not all buckets of a histogram are all ones
 *   counter-decreased      (two snapshots) a cumulative/peak counter went down: a reset
 *   layout-changed         (two snapshots) the header changed
 */
import type { ResolvedAbi } from '../../abi/resolved.ts';
import { FormatError, type Violation } from '../../errors.ts';
import type { Region } from '../../shm/region.ts';
import {
  ADDRESSING_RULES,
  blockOffset,
  LAYOUT_FIELD_NAMES,
  layoutExtent,
  parseHeader,
  type TableLayout,
  validateLayout,
} from './layout.ts';
import { type GroupModel, tableModel, type ZeroRange } from './model.ts';
import { decodeDomainName, type NameProblem } from './name.ts';
import { MAX_PORT, PORTS_GROUP, portSlots, UNUSED_PORT } from './ports.ts';
import { producerGroup } from './producer.ts';
import {
  type DecodedGroup,
  type DecodedTable,
  type ReaderOptions,
  StatsTableReader,
  type TableSnapshot,
} from './reader.ts';

export interface CheckOptions extends ReaderOptions {
  /** An earlier decoded snapshot of the same table: enables the two-snapshot rules. */
  previous?: DecodedTable;
}

export interface CheckResult {
  violations: Violation[];
  /** The decoded table, when the layout allowed reading it. */
  table?: DecodedTable;
}

function violation(field: string, rule: string, message: string, value?: string | number | bigint): Violation {
  return { field, rule, severity: 'error', message, ...(value === undefined ? {} : { value: String(value) }) };
}

/** First non-zero byte of bytes[start, start+length), or -1. */
function firstNonZero(bytes: Uint8Array, start: number, length: number): number {
  const end = Math.min(bytes.length, start + length);
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return i;
  return -1;
}

export function checkStatsTable(region: Region, abi: ResolvedAbi, options: CheckOptions = {}): CheckResult {
  const model = tableModel(abi);
  const bytes = region.bytes;
  if (bytes.length < model.headerSize) {
    return {
      violations: [violation('region', 'region-too-short', `a table needs ${model.headerSize} bytes`, bytes.length)],
    };
  }
  const layout = parseHeader(bytes.slice(0, model.headerSize), model);
  const out = validateLayout(layout, model, bytes.length);
  if (out.some((v) => v.severity === 'error' && ADDRESSING_RULES.has(v.rule))) return { violations: out };

  let reader: StatsTableReader;
  let snapshot: TableSnapshot;
  let table: DecodedTable;
  try {
    reader = StatsTableReader.open(region, abi, options);
    snapshot = reader.snapshot();
    table = reader.decode(snapshot);
  } catch (e) {
    if (e instanceof FormatError) return { violations: [...out, e.toViolation()] };
    throw e;
  }
  const copy = snapshot.bytes;
  /** Ranges are relative to the block at `base`; only the producer's `limit` bytes of it are checked. */
  const zeroRanges = (ranges: ZeroRange[], base: number, limit: number, prefix: string) => {
    for (const { name, offset, length } of ranges) {
      if (offset >= limit) continue;
      const at = firstNonZero(copy, base + offset, Math.min(length, limit - offset));
      if (at >= 0)
        out.push(violation(`${prefix}.${name}`, 'reserved-nonzero', 'reserved bytes must be zero', `byte ${at}`));
    }
  };

  // Header and vCPU headers, by the producer's revision (nothing judged from a newer one).
  const producer = reader.producer;
  const domZero = producer.newer ? [] : producer.model.domZero;
  const vcpuZero = producer.newer ? [] : producer.model.vcpuZero;
  const groupZero = (g: GroupModel): ZeroRange[] =>
    producer.newer ? [] : (producerGroup(producer, g)?.zero ?? g.zero);
  zeroRanges(domZero, 0, layout.domSize, 'dom');
  const domid = table.identity.domid;
  if (domid !== undefined && domid > 32767) {
    out.push(violation('dom.domid', 'domid-out-of-range', 'domids are 1..32767', domid));
  }
  // The name field, when the producer has it (a newer producer kept it where it was: carved, never moved).
  const nameField = model.domName;
  if (nameField && (producer.newer || producer.model.domName) && nameField.offset < layout.domSize) {
    for (const problem of decodeDomainName(copy, nameField.offset, nameField.length).problems) {
      out.push(violation('dom.name', `name-${problem}`, NAME_RULES[problem]));
    }
  }
  table.vcpus.forEach((block) => {
    const name = `vcpu[${block.index}]`;
    if (!block.magicOk) {
      const magic = new DataView(copy.buffer, copy.byteOffset).getUint32(block.offset, true);
      out.push(
        violation(
          `${name}.magic`,
          'vcpu-magic',
          `expected VCPU_MAGIC 0x${model.vcpuMagic.toString(16)}`,
          `0x${magic.toString(16)}`,
        ),
      );
      return;
    }
    if (block.vcpuId !== block.index)
      out.push(violation(`${name}.vcpu_id`, 'vcpu-id', 'must equal the block index', block.vcpuId));
    zeroRanges(vcpuZero, block.offset, layout.vcpuSize, name);
  });

  // Groups.
  reader.slots.forEach((slot, i) => {
    const g = slot.group;
    const prefix =
      slot.scope === 'dom' ? `dom.${g.name}` : `vcpu[${slot.index}].${slot.scope === 'vcpu' ? g.name : 'arch'}`;
    const decoded = slot.scope === 'dom' ? table.dom.groups[i] : findGroup(table, slot.index, slot.scope, g.name);
    if (!decoded || decoded.state === 'invalid') return;
    const start = slot.blockStart + g.offset;
    if (decoded.state === 'absent') return;
    if (decoded.state === 'inactive') {
      const at = firstNonZero(copy, start, slot.length);
      if (at >= 0)
        out.push(
          violation(prefix, 'inactive-group-data', 'a group whose active bit is clear must be all zero', `byte ${at}`),
        );
      return;
    }
    if (decoded.state === 'torn') {
      out.push(
        violation(
          `${prefix}.seq`,
          'seq-odd',
          'the sequence word never settled even within the retry bound',
          decoded.seq,
        ),
      );
      return;
    }
    zeroRanges(groupZero(g), slot.blockStart, g.offset + slot.length, prefix);
    if (slot.scope === 'vcpu' && g.name === PORTS_GROUP) checkPorts(prefix, g, decoded, out);
    for (const c of decoded.counters) {
      if (c.buckets && c.field.inactiveWhenAllOnes && c.buckets.some((b) => b === 0xffff_ffff_ffff_ffffn)) {
        out.push(
          violation(
            `${prefix}.${c.name}`,
            'histogram-partially-inactive',
            'a histogram is inactive as a whole or not at all',
          ),
        );
      }
    }
  });

  // Active groups the producer's blocks are too small to hold.
  for (const scope of ['dom', 'vcpu'] as const) {
    const size = scope === 'dom' ? layout.domSize : layout.vcpuSize;
    for (const g of model[scope]) {
      if (isActive(layout, scope, g.bit) && g.seqOffset + 4 > size) {
        const message = `group ${g.name} lies past the producer's block size`;
        out.push(violation(`dom.${scope}_active`, 'active-bit-unproducible', message, `bit ${g.bit}`));
      }
    }
  }

  // Active bits nobody knows, from a producer no newer than this checker.
  for (const { scope, bit } of table.unknownActive) {
    const newer = scope === 'dom' ? layout.domSize > model.domSize : layout.vcpuSize > model.vcpuSize;
    if (!newer) {
      out.push(
        violation(
          `dom.${scope}_active`,
          'active-bit-unknown',
          'no group has this bit, and the producer is no newer than the checker',
          `bit ${bit}`,
        ),
      );
    }
  }

  checkSlack(region, copy, layout, out);
  if (options.previous) for (const v of compareTables(options.previous, table)) out.push(v);
  return { violations: out, table };
}

const NAME_RULES: Record<NameProblem, string> = {
  unterminated: 'the name must end with a NUL inside its field',
  'bytes-after-nul': 'the bytes after the name’s first NUL must be zero',
  'invalid-utf8': 'the name must be valid UTF-8',
  'control-character': 'the name must hold no control character',
};

/** The ports group's slot rules (see ports.ts). */
function checkPorts(prefix: string, g: GroupModel, decoded: DecodedGroup, out: Violation[]): void {
  let unused: number | undefined;
  for (const slot of portSlots(g)) {
    const c = decoded.counters.find((x) => x.name === slot.port.name);
    if (!c || c.state === 'absent') continue;
    const port = c.state === 'inactive' ? UNUSED_PORT : (c.value ?? UNUSED_PORT);
    if (port === UNUSED_PORT) {
      unused ??= slot.index;
      continue;
    }
    const field = `${prefix}.${slot.port.name}`;
    if (port > BigInt(MAX_PORT)) {
      out.push(
        violation(
          field,
          'port-out-of-range',
          `a port number is all ones (unused) or ≤ 0x${MAX_PORT.toString(16)}`,
          `0x${port.toString(16)}`,
        ),
      );
    }
    if (unused !== undefined) {
      out.push(
        violation(field, 'port-slot-order', `a used slot follows the unused slot ${unused}`, `0x${port.toString(16)}`),
      );
    }
  }
}

function isActive(layout: TableLayout, scope: 'dom' | 'vcpu', bit: number): boolean {
  const word = scope === 'dom' ? layout.domActive : layout.vcpuActive;
  return ((word >> BigInt(bit)) & 1n) === 1n;
}

function findGroup(table: DecodedTable, index: number, scope: string, name: string): DecodedGroup | undefined {
  const block = table.vcpus[index];
  if (!block) return undefined;
  return scope === 'vcpu-arch' ? block.arch : block.groups.find((g) => g.name === name);
}

/** Bytes outside every block (and outside arch blocks) must be zero: nothing is produced there. */
function checkSlack(region: Region, copy: Uint8Array, layout: TableLayout, out: Violation[]): void {
  const gaps = (from: number, to: number, archOffs: number, archSize: number): [number, number][] =>
    archSize === 0
      ? [[from, to]]
      : [
          [from, archOffs],
          [archOffs + archSize, to],
        ];
  const report = (field: string, ranges: [number, number][], base: number, bytes: Uint8Array) => {
    for (const [a, b] of ranges) {
      const at = firstNonZero(bytes, base + a, b - a);
      if (at >= 0) {
        out.push(
          violation(
            field,
            'slack-nonzero',
            'nothing may be produced outside a block (or its arch block)',
            `byte ${at}`,
          ),
        );
        return;
      }
    }
  };
  report('dom', gaps(layout.domSize, layout.vcpuOffs, layout.archDomOffs, layout.archDomSize), 0, copy);
  for (let i = 0; i < layout.nrVcpus; i++) {
    const ranges = gaps(layout.vcpuSize, layout.vcpuStride, layout.archVcpuOffs, layout.archVcpuSize);
    report(`vcpu[${i}]`, ranges, blockOffset(layout, 'vcpu', i), copy);
  }
  // The tail after the last vCPU block is static: read it straight from the region, bounded by it.
  const extent = layoutExtent(layout);
  const tailEnd = Math.min(layout.regionSize, region.length);
  if (tailEnd > extent) report('region', [[extent, tailEnd]], 0, region.bytes);
}

/** Two-snapshot rules: cumulative and peak counters (and histogram buckets) never decrease. */
export function compareTables(previous: DecodedTable, next: DecodedTable): Violation[] {
  const out: Violation[] = [];
  const a = previous.layout;
  const b = next.layout;
  for (const key of Object.keys(a) as (keyof TableLayout)[]) {
    if (a[key] !== b[key]) {
      out.push({
        field: `dom.${LAYOUT_FIELD_NAMES[key]}`,
        rule: 'layout-changed',
        severity: 'warning',
        message: 'the header changed between snapshots',
        value: String(b[key]),
      });
      return out;
    }
  }
  const compareGroup = (prefix: string, p: DecodedGroup | undefined, n: DecodedGroup | undefined) => {
    if (!p || !n || p.state !== 'ok' || n.state !== 'ok') return;
    n.counters.forEach((c, i) => {
      const old = p.counters[i];
      const type = c.field.stat?.type;
      if (old?.state !== 'value' || c.state !== 'value' || type === 'instant' || type === undefined) return;
      const before = old.buckets ?? [old.value ?? 0n];
      const after = c.buckets ?? [c.value ?? 0n];
      const k = after.findIndex((v, j) => v < (before[j] ?? 0n));
      if (k >= 0) {
        out.push({
          field: `${prefix}.${c.name}${c.buckets ? `[${k}]` : ''}`,
          rule: 'counter-decreased',
          severity: 'warning',
          message: `a ${type} counter went down (${before[k]} → ${after[k]}): the producer reset it`,
          value: String(after[k]),
        });
      }
    });
  };
  next.dom.groups.forEach((g, i) => {
    compareGroup(`dom.${g.name}`, previous.dom.groups[i], g);
  });
  next.vcpus.forEach((block, v) => {
    const old = previous.vcpus[v];
    block.groups.forEach((g, i) => {
      compareGroup(`vcpu[${v}].${g.name}`, old?.groups[i], g);
    });
    compareGroup(`vcpu[${v}].arch`, old?.arch, block.arch);
  });
  return out;
}
