/**
 * Output written as it is produced: a writer that gathers text into chunks of about 64 KiB and
 * writes each with writeSync on a descriptor (stdout, fd 1), plus JSON and table writers on top.
 * A command that prints millions of rows (hvkit dump of a huge but valid file) then holds one
 * chunk and one row, never the whole output as one string; writeSync blocks while the reader
 * is slow, which is the back-pressure a CLI wants.
 */
import { writeSync } from 'node:fs';
import { EnvironmentError, environmentError, errorCode } from '../errors.ts';

const CHUNK_CHARS = 64 * 1024;

/**
 * The reader of our output went away (EPIPE: `hvkit dump … | head`). Not a failure of the
 * command: like any Unix filter it stops writing, quietly (src/cli/errors.ts).
 */
export class OutputClosedError extends EnvironmentError {
  override readonly name = 'OutputClosedError';
}
/** How long to wait before retrying a descriptor that is non-blocking and full (EAGAIN). */
const RETRY_MS = 1;

export class FdWriter {
  #parts: string[] = [];
  #pending = 0;

  constructor(
    readonly fd: number = 1,
    /** What the descriptor is, for messages ("stdout"). */
    readonly label: string = 'stdout',
    readonly chunkChars: number = CHUNK_CHARS,
  ) {}

  write(text: string): void {
    this.#parts.push(text);
    this.#pending += text.length;
    if (this.#pending >= this.chunkChars) this.flush();
  }

  flush(): void {
    if (this.#pending === 0) return;
    const bytes = Buffer.from(this.#parts.join(''), 'utf8');
    this.#parts = [];
    this.#pending = 0;
    let done = 0;
    while (done < bytes.length) {
      try {
        done += writeSync(this.fd, bytes, done, bytes.length - done);
      } catch (err) {
        if (errorCode(err) === 'EPIPE') throw new OutputClosedError(`${this.label}: the reader went away`);
        if (errorCode(err) !== 'EAGAIN') throw environmentError(this.label, err);
        // stdout may be a non-blocking pipe someone else set up: wait for room, then retry.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
      }
    }
  }
}

/** A value the JSON writer computes only when it reaches it (e.g. a count known after the rows). */
export class Deferred {
  constructor(readonly compute: () => unknown) {}
}

/** An iterator that is not an Array: written as a JSON array, element by element. */
function isLazyList(v: object): v is Iterable<unknown> {
  return !Array.isArray(v) && typeof (v as Iterator<unknown>).next === 'function' && Symbol.iterator in v;
}

/**
 * Writes `value` as JSON.stringify(value, bigints as decimal strings, 2) would, but piece by
 * piece: arrays and iterators (generators) element by element, so no string larger than one
 * leaf is built. Deferred values are computed when reached; undefined and functions are left
 * out of objects (null in arrays), as JSON.stringify does.
 */
export function writeJson(out: FdWriter, value: unknown): void {
  writeValue(out, value, '', '');
  out.write('\n');
}

function leafJson(v: unknown): string | undefined {
  if (typeof v === 'bigint') return JSON.stringify(v.toString());
  return JSON.stringify(v);
}

function resolve(v: unknown, key: string): unknown {
  let r = v instanceof Deferred ? v.compute() : v;
  if (r !== null && typeof r === 'object' && typeof (r as { toJSON?: unknown }).toJSON === 'function') {
    r = (r as { toJSON(k: string): unknown }).toJSON(key);
  }
  return r;
}

function skipped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

function writeValue(out: FdWriter, v: unknown, key: string, indent: string): void {
  const value = resolve(v, key);
  if (value === null || typeof value !== 'object') {
    out.write(skipped(value) ? 'null' : (leafJson(value) ?? 'null'));
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value) || isLazyList(value)) {
    let first = true;
    let i = 0;
    for (const element of value as Iterable<unknown>) {
      out.write(first ? `[\n${inner}` : `,\n${inner}`);
      first = false;
      writeValue(out, element, String(i++), inner);
    }
    out.write(first ? '[]' : `\n${indent}]`);
    return;
  }
  let first = true;
  for (const k of Object.keys(value)) {
    const member = resolve((value as Record<string, unknown>)[k], k);
    if (skipped(member)) continue;
    out.write(first ? `{\n${inner}` : `,\n${inner}`);
    first = false;
    out.write(`${JSON.stringify(k)}: `);
    writeValue(out, member, k, inner);
  }
  out.write(first ? '{}' : `\n${indent}}`);
}
