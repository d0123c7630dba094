/**
 * Short per-series histories and their sparklines. Each series keeps a fixed number of points in a
 * ring; series not refreshed by a sample are dropped, so vanished VMs do not accumulate.
 */

export const SPARK_LEVELS = '▁▂▃▄▅▆▇█';

/** A fixed-capacity ring of numbers, oldest first when read. */
export class HistoryRing {
  private readonly points: number[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity ${capacity} < 1`);
    this.points = new Array<number>(capacity).fill(0);
  }

  push(value: number): void {
    this.points[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  values(): number[] {
    const start = (this.next - this.size + this.capacity) % this.capacity;
    return Array.from({ length: this.size }, (_, i) => this.points[(start + i) % this.capacity]!);
  }
}

/** Histories by series key. */
export class SeriesHistory {
  private readonly rings = new Map<string, HistoryRing>();
  private touched = new Set<string>();

  constructor(readonly capacity: number) {}

  record(key: string, value: number): void {
    let ring = this.rings.get(key);
    if (!ring) {
      ring = new HistoryRing(this.capacity);
      this.rings.set(key, ring);
    }
    ring.push(value);
    this.touched.add(key);
  }

  values(key: string): number[] {
    return this.rings.get(key)?.values() ?? [];
  }

  /** Forgets every series not recorded since the previous call. */
  sweep(): void {
    for (const key of this.rings.keys()) if (!this.touched.has(key)) this.rings.delete(key);
    this.touched = new Set();
  }

  get seriesCount(): number {
    return this.rings.size;
  }
}

/**
 * Exactly `width` characters: the newest `width` points right-aligned (older side padded with
 * spaces), scaled from 0 to the largest point shown. Non-finite and negative points count as 0;
 * an all-zero history draws the lowest level.
 */
export function sparkline(values: readonly number[], width: number): string {
  if (width <= 0) return '';
  const shown = values.slice(-width).map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const max = Math.max(0, ...shown);
  const top = SPARK_LEVELS.length - 1;
  const chars = shown.map((v) => SPARK_LEVELS[max === 0 ? 0 : Math.min(top, Math.round((v / max) * top))]!);
  return ' '.repeat(width - chars.length) + chars.join('');
}
