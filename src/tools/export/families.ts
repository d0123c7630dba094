/**
 * How one statistic of a VM becomes a Prometheus family: its name, type, unit, scale and HELP.
 *
 * Names: `hvkit_kvm_vm_<stat>` / `hvkit_kvm_vcpu_<stat>` for the kernel's stats,
 * `hvkit_vmm_vm_<group>_<counter>` / `hvkit_vmm_vcpu_<…>` for hvkit's VMM counters, then the unit;
 * counters get `_total` from the encoders. A unit abbreviation already in the stat's name (`_ns`,
 * `_bytes` …) is dropped in favour of the exported unit.
 *
 * Units (the issue's decision): counters and gauges in base units — seconds and bytes, the
 * producer's exponent and base applied by the encoders, exactly. A log2 histogram keeps bounds
 * that are powers of two: nanosecond-exponent time histograms are exported in nanoseconds (milli-
 * and microseconds likewise), with the raw value unscaled, so schema-0 native buckets sit exactly
 * on the kernel's; base-2 scales stay base 2. A log2 histogram on a base-10 scale with no such
 * unit is exported in base units with classic buckets only (the encoders leave out native fields).
 * Linear histograms are classic, in base units.
 */

import type { StatSample } from '../../attach/sample.ts';
import type { HistogramShape, MetricType, Scale } from '../../formats/exposition/model.ts';
import type { UnitScale } from '../../stats/units.ts';

export type Scope = 'vm' | 'vcpu';

export interface FamilyDesc {
  name: string;
  help: string;
  type: MetricType;
  unit: string;
  scale: Scale;
  shape?: HistogramShape;
}

const SECOND_PREFIXES: Record<number, string> = { [-9]: 'nanoseconds', [-6]: 'microseconds', [-3]: 'milliseconds' };

const UNIT_IN_NAME =
  /_(ns|nsec|nanoseconds|us|usec|microseconds|ms|msec|milliseconds|s|sec|secs|seconds|bytes|b|cycles)$/;

export function sanitize(name: string): string {
  return name
    .replace(/[^a-zA-Z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

function unitAndScale(s: StatSample): { unit: string; scale: Scale } {
  const u: UnitScale = s.unit;
  const scale: Scale = { base: u.base, exponent: u.exponent };
  const log2 = s.kind === 'histogram' && s.histogram?.kind === 'log2';
  switch (u.unit) {
    case 'seconds':
      if (log2 && u.base === 10 && u.exponent !== 0) {
        const prefixed = SECOND_PREFIXES[u.exponent];
        if (prefixed) return { unit: prefixed, scale: { base: 10, exponent: 0 } };
      }
      return { unit: 'seconds', scale };
    case 'bytes':
      return { unit: 'bytes', scale };
    case 'cycles':
      return { unit: 'cycles', scale };
    default:
      return { unit: '', scale };
  }
}

function shapeOf(s: StatSample): HistogramShape | undefined {
  if (s.kind !== 'histogram') return undefined;
  if (s.histogram?.kind === 'linear')
    return { kind: 'linear', bucketSize: BigInt(Math.max(1, s.histogram.bucketSize)) };
  return { kind: 'log2' };
}

/** A fresh description of the family a stat belongs to (families.ts's cache keeps them). */
export function describeFamily(s: StatSample, scope: Scope): FamilyDesc {
  const { unit, scale } = unitAndScale(s);
  let stem = sanitize(s.name).replace(/_total$/, '');
  if (unit !== '') stem = stem.replace(UNIT_IN_NAME, '');
  const name = `hvkit_${s.origin}_${scope}_${stem}${unit === '' ? '' : `_${unit}`}`;
  const shape = shapeOf(s);
  const fallback = s.origin === 'kvm' ? `KVM stat ${s.name}` : `hvkit VMM counter ${s.name}`;
  const help = `${(s.help ?? '').replace(/\s+/g, ' ').trim() || fallback} (per ${scope === 'vm' ? 'VM' : 'vCPU'})`;
  return { name, help, type: s.kind, unit, scale, ...(shape ? { shape } : {}) };
}

function sameUnit(a: UnitScale, b: UnitScale): boolean {
  return a === b || (a.unit === b.unit && a.base === b.base && a.exponent === b.exponent);
}

interface Cached {
  kind: StatSample['kind'];
  origin: StatSample['origin'];
  unit: UnitScale;
  histogram: StatSample['histogram'];
  desc: FamilyDesc;
}

/**
 * Family descriptions by stat, computed once per distinct (scope, name, kind, unit, histogram):
 * every scrape of a host of thousands of vCPUs looks the same few hundred up again.
 */
export class FamilyCache {
  readonly #byName: [Map<string, Cached[]>, Map<string, Cached[]>] = [new Map(), new Map()];

  get(s: StatSample, scope: Scope): FamilyDesc {
    const map = this.#byName[scope === 'vm' ? 0 : 1];
    let list = map.get(s.name);
    if (list) {
      for (const c of list) {
        if (
          c.kind === s.kind &&
          c.origin === s.origin &&
          sameUnit(c.unit, s.unit) &&
          (c.histogram === s.histogram ||
            (c.histogram?.kind === s.histogram?.kind && c.histogram?.bucketSize === s.histogram?.bucketSize))
        ) {
          return c.desc;
        }
      }
    } else {
      list = [];
      map.set(s.name, list);
    }
    const desc = describeFamily(s, scope);
    list.push({ kind: s.kind, origin: s.origin, unit: s.unit, histogram: s.histogram, desc });
    return desc;
  }
}
