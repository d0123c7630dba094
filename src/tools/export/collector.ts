/**
 * One collection per scrape, shared: the attach session is sampled once for every scrape that
 * arrives while a collection is pending or within `shareMs` after it was made (sampling is
 * synchronous, so "in flight" alone would be one turn of the event loop: scrapes from two
 * Prometheus servers of an HA pair arrive a few milliseconds apart), each format is encoded at
 * most once per collection, and at most `maxWaiting` scrapes wait on one — more are refused (the
 * server answers 503) rather than queued behind a slow host.
 *
 * A scrape never waits on a VMM: the session's reads are preads of stats fds and seqlocked copies
 * of stats tables (bounded retries), none of which blocks on the process that writes them; a VM
 * that vanished mid-sample costs its own series (the session notes it and drops it).
 *
 * This is also what a push exporter (OTLP) takes: `collect()` gives the same families.
 */
import type { HostSample, SampleSource } from '../../attach/sample.ts';
import { HvkitError } from '../../errors.ts';
import type { Exposition } from '../../formats/exposition/model.ts';
import type { ExpositionFormat } from '../../formats/exposition/negotiate.ts';
import { encodeProtobuf } from '../../formats/exposition/protobuf.ts';
import { encodeOpenMetricsBytes, encodePrometheusTextBytes } from '../../formats/exposition/text.ts';
import { type MappingOptions, SampleMapper } from './mapping.ts';
import { ExportStats } from './self-metrics.ts';

export interface CollectorOptions extends MappingOptions {
  /** Scrapes that may wait on one pending collection (default 16); more are refused. */
  maxWaiting?: number;
  /** A collection this young (milliseconds) answers new scrapes too (default 100; 0: never). */
  shareMs?: number;
  /** Wall clock in milliseconds (default Date.now). */
  now?: () => number;
}

export class Collection {
  readonly #encoded = new Map<ExpositionFormat, Uint8Array>();
  constructor(readonly exposition: Exposition) {}

  /** The collection in a format, encoded once however many scrapes ask for it. */
  encode(format: ExpositionFormat): Uint8Array {
    let body = this.#encoded.get(format);
    if (body === undefined) {
      body =
        format === 'protobuf'
          ? encodeProtobuf(this.exposition)
          : format === 'openmetrics'
            ? encodeOpenMetricsBytes(this.exposition)
            : encodePrometheusTextBytes(this.exposition);
      this.#encoded.set(format, body);
    }
    return body;
  }
}

/** Refused: too many scrapes already wait on the pending collection. */
export const BUSY = Symbol('busy');

export class ExpositionCollector {
  readonly stats: ExportStats;
  readonly #source: SampleSource;
  readonly #mapper: SampleMapper;
  readonly #maxWaiting: number;
  readonly #now: () => number;
  readonly #shareMs: number;
  #pending: Promise<Collection> | undefined;
  #recent: { collection: Collection; madeAt: number } | undefined;
  #waiting = 0;
  readonly #observers = new Set<(sample: HostSample, atMs: number) => void>();

  constructor(source: SampleSource, options: CollectorOptions = {}) {
    this.#source = source;
    this.#mapper = new SampleMapper(options);
    this.#maxWaiting = options.maxWaiting ?? 16;
    this.#now = options.now ?? Date.now;
    this.#shareMs = options.shareMs ?? 100;
    this.stats = new ExportStats(this.#now());
  }

  /** Scrapes waiting on the pending collection. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * The next collection, shared with every scrape that asks before it is made; BUSY when
   * `maxWaiting` scrapes already wait. Rejects with the HvkitError of a failed host sample.
   */
  collect(): Promise<Collection> | typeof BUSY {
    const recent = this.#recent;
    if (recent && performance.now() - recent.madeAt < this.#shareMs) return Promise.resolve(recent.collection);
    if (this.#waiting >= this.#maxWaiting) {
      this.stats.rejected++;
      return BUSY;
    }
    this.#waiting++;
    if (!this.#pending) {
      // Made on the next turn of the event loop, so scrapes arriving together share it.
      this.#pending = new Promise<Collection>((resolve, reject) => {
        setImmediate(() => {
          this.#pending = undefined;
          this.#waiting = 0;
          try {
            const collection = this.collectNow();
            this.#recent = { collection, madeAt: performance.now() };
            resolve(collection);
          } catch (err) {
            if (!(err instanceof HvkitError)) throw err;
            reject(err);
          }
        });
      });
    }
    return this.#pending;
  }

  /** One collection now, not shared (a push exporter's tick, tests). */
  collectNow(): Collection {
    const started = process.hrtime.bigint();
    this.stats.scrapes++;
    let sample: ReturnType<SampleSource['sample']>;
    try {
      sample = this.#source.sample();
    } catch (err) {
      if (err instanceof HvkitError) this.stats.sampleErrors++;
      throw err;
    }
    const atMs = this.#now();
    for (const observe of this.#observers) observe(sample, atMs);
    const mapped = this.#mapper.map(sample, atMs);
    this.stats.series = mapped.series;
    this.stats.vms = sample.vms.length;
    this.stats.observeDuration(process.hrtime.bigint() - started);
    const own = this.stats.families(this.#mapper.droppedByLimit, this.#mapper.droppedByConflict);
    return new Collection({ families: [...mapped.families, ...own], atMs });
  }

  /**
   * Every host sample a collection takes, also given to `observer` (the web view): one sampler
   * feeds both, so a page and a scrape in the same moment cost one host sample. Returns a stop.
   */
  observe(observer: (sample: HostSample, atMs: number) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  close(): void {
    this.#source.close();
  }
}
