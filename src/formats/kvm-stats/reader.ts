/**
 * Validating reader. `readLayout` reads header, id and descriptors once;
 * `KvmStatsReader` then preads only the data block, as often as wanted.
 *
 * Values are u64 and decoded exactly as bigint, into a BigUint64Array that
 * views the reader's own data buffer (no per-sample allocation). Callers that
 * keep a sample past the next read copy it (`sample()` does) or pass their
 * own array to `readData(into)`.
 */
import { FormatError } from '../../errors.ts';
import { FORMAT, isHistogram, WORD_SIZE } from './constants.ts';
import { inspectMetadata } from './inspect.ts';
import { readFully, type StatsSource } from './source.ts';
import type { KvmStatDescriptor, KvmStatsLayout } from './types.ts';

export interface ReadLayoutOptions {
  /** Also reject on non-fatal errors (unknown types, exponent signs, duplicates, …), not only on unreadable structure. */
  strict?: boolean;
}

/** Reads and validates the metadata; throws FormatError naming the field and rule on the first fatal problem. */
export function readLayout(source: StatsSource, options: ReadLayoutOptions = {}): KvmStatsLayout {
  const { findings, layout } = inspectMetadata(source);
  const first = findings.find((x) => x.fatal || (options.strict && x.severity === 'error'));
  if (first || !layout) {
    const v = first ?? findings[0];
    if (!v) throw new FormatError(FORMAT, 'header', 'unreadable', 'metadata could not be read');
    throw new FormatError(FORMAT, v.field, v.rule, v.message, v.value);
  }
  return layout;
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One data-block read, owned by the caller. */
export interface KvmStatsSample {
  /** Every u64 of the data block, indexed by word (descriptor.word). */
  values: BigUint64Array;
  /** Monotonic clock at the read, in nanoseconds. */
  at: bigint;
}

export class KvmStatsReader {
  readonly layout: KvmStatsLayout;
  private readonly source: StatsSource;
  private readonly bytes: Uint8Array;
  private readonly words: BigUint64Array;

  constructor(source: StatsSource, layout: KvmStatsLayout = readLayout(source)) {
    this.source = source;
    this.layout = layout;
    // dataSize is a multiple of 8 and bounded by LIMITS.maxDataBytes and the file size.
    const buffer = new ArrayBuffer(layout.dataSize);
    this.bytes = new Uint8Array(buffer);
    this.words = new BigUint64Array(hostIsLittleEndian ? buffer : new ArrayBuffer(layout.dataSize));
  }

  /** Convenience: read the metadata of `source` and wrap it. */
  static open(source: StatsSource, options?: ReadLayoutOptions): KvmStatsReader {
    return new KvmStatsReader(source, readLayout(source, options));
  }

  get dataWords(): number {
    return this.layout.dataSize / WORD_SIZE;
  }

  /**
   * Preads the data block. Without `into`, returns the reader's own array,
   * overwritten by the next call; with `into` (at least `dataWords` long),
   * fills and returns it.
   */
  readData(into?: BigUint64Array): BigUint64Array {
    const { dataOffset } = this.layout.header;
    const n = readFully(this.source, this.bytes, dataOffset);
    if (n < this.bytes.length) {
      throw new FormatError(
        FORMAT,
        'data',
        'truncated',
        `read ${n} of the data block's ${this.bytes.length} bytes`,
        String(n),
      );
    }
    if (!hostIsLittleEndian) decodeLittleEndian(this.bytes, this.words);
    if (!into) return this.words;
    if (into.length < this.words.length) {
      throw new RangeError(`readData: target holds ${into.length} words, the data block has ${this.words.length}`);
    }
    into.set(this.words);
    return into;
  }

  /** Reads the data block into a fresh array the caller may keep. */
  sample(): KvmStatsSample {
    const at = process.hrtime.bigint();
    return { values: this.readData().slice(), at };
  }

  stat(name: string): KvmStatDescriptor | undefined {
    return this.layout.byName.get(name);
  }

  /** Scalar value of a stat (its first item) in `values`; throws RangeError for an unknown name. */
  value(values: BigUint64Array, stat: string | KvmStatDescriptor): bigint {
    const d = this.resolve(stat);
    return d.size === 0 ? 0n : values[d.word]!;
  }

  /** All items of a stat (the buckets of a histogram) as a view into `values`. */
  items(values: BigUint64Array, stat: string | KvmStatDescriptor): BigUint64Array {
    const d = this.resolve(stat);
    return values.subarray(d.word, d.word + d.size);
  }

  /** Values as a plain record name → bigint (scalars) or bigint[] (histograms). */
  toRecord(values: BigUint64Array): Record<string, bigint | bigint[]> {
    return statValues(this.layout, values);
  }

  private resolve(stat: string | KvmStatDescriptor): KvmStatDescriptor {
    if (typeof stat !== 'string') return stat;
    const d = this.layout.byName.get(stat);
    if (!d) throw new RangeError(`no stat named "${stat}" in ${this.layout.id}`);
    return d;
  }
}

/** name → value (scalar) or bucket array (histogram) for one data block. */
export function statValues(layout: KvmStatsLayout, values: BigUint64Array): Record<string, bigint | bigint[]> {
  const out: Record<string, bigint | bigint[]> = {};
  for (const d of layout.byName.values()) {
    const items = values.subarray(d.word, d.word + d.size);
    out[d.name] = isHistogram(d.type) || d.size !== 1 ? Array.from(items) : (items[0] ?? 0n);
  }
  return out;
}

function decodeLittleEndian(bytes: Uint8Array, into: BigUint64Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < into.length; i++) into[i] = view.getBigUint64(i * WORD_SIZE, true);
}
