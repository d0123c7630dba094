/**
 * C interop across revisions: for an ABI, compile the generated C header of every frozen
 * revision (and of the working schema when it is compatible) with the system C compiler, and
 * check that a C consumer built against revision M reads data produced at revision N the way
 * the compatibility rules promise.
 *
 * For each pair (M, N) and each struct both know, the producer side (here, from revision N's
 * layout) fills a buffer with a distinct value in every field element; the consumer (C, built
 * against header M) zeroes a struct, copies min(its size, N's size) bytes in — what a consumer
 * of a versioned struct does — and prints every field it knows. A field M knows must read as
 * the value N wrote into the same field (matched by name or rename), and as zero when N does not
 * have it (older producers leave new fields zero); fields N added are simply not read.
 *
 * The work is bounded: with up to ALL_PAIRS_UP_TO revisions every pair is tried; beyond that,
 * each revision against its neighbours, the first, the last and itself. One program is compiled
 * per consumer revision.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.ts';
import { generateCHeader } from './gen-c.ts';
import { cStructTag } from './gen-common.ts';
import type { ResolvedAbi, ResolvedField, ResolvedStruct } from './resolved.ts';
import { findStruct } from './resolved.ts';

/** With at most this many revisions, every (consumer, producer) pair is compiled and run. */
export const ALL_PAIRS_UP_TO = 8;
/**
 * Structs beyond these bounds are left out of the C check (and said so): a lock may describe a
 * 16 MiB struct or a nested array of a million elements, and the consumer's source grows with both.
 */
export const MAX_INTEROP_BYTES = 64 * 1024;
export const MAX_INTEROP_READS = 4096;
/** Mismatch lines reported per ABI; the count covers them all. */
const MAX_LINES = 20;

const LEAF_KINDS = new Set(['int', 'array', 'char', 'magic', 'seq']);

export interface InteropResult {
  /** Consumer revisions compiled. */
  consumers: number;
  /** (consumer, producer) pairs run. */
  pairs: number;
  errors: number;
  lines: string[];
  /** Structs left out of the check (too large), as info lines. */
  notes: string[];
}

function label(abi: ResolvedAbi): string {
  return abi.revision === 0 ? 'current' : `rev ${abi.revision}`;
}

/** The producers each consumer is tried against (indexes into `revs`). */
export function producersFor(count: number, consumer: number): number[] {
  if (count <= ALL_PAIRS_UP_TO) return Array.from({ length: count }, (_, i) => i);
  const set = new Set([0, count - 1, consumer, consumer - 1, consumer + 1].filter((i) => i >= 0 && i < count));
  return [...set].sort((a, b) => a - b);
}

/** A distinct, non-zero value for the element at byte `offset` of width `width`; top bit clear. */
export function valueAt(offset: number, width: number): bigint {
  const x = BigInt(offset + 1);
  const mixed = (x * 0x9e3779b97f4a7c15n + 0x632be59bd9b4e019n * BigInt(width)) & ((1n << 64n) - 1n);
  const v = (mixed ^ (mixed >> 29n)) & ((1n << BigInt(width * 8 - 1)) - 1n);
  return v === 0n ? 1n : v;
}

function elementWidth(f: ResolvedField): number {
  return f.size / f.count;
}

function names(f: ResolvedField): string[] {
  return [f.name, ...(f.renamedFrom ?? [])];
}

/** The field of `s` that is `f` (same name, or renamed from/to it), among live fields. */
function matching(s: ResolvedStruct, f: ResolvedField): ResolvedField | undefined {
  const mine = names(f);
  return s.fields.find(
    (g) => (LEAF_KINDS.has(g.kind) || g.kind === 'struct') && names(g).some((n) => mine.includes(n)),
  );
}

/** One printed read of the consumer: a leaf field (all its elements, in order). */
interface Read {
  /** C member access from the struct, e.g. `ports[2].speed`. */
  path: string;
  /** The field at each level, with the element index for nested structs. */
  chain: { field: ResolvedField; index: number }[];
  count: number;
}

/** The consumer's reads of `s`, in order; undefined past MAX_INTEROP_READS. */
function readsOf(abi: ResolvedAbi, s: ResolvedStruct): Read[] | undefined {
  const out: Read[] = [];
  const walk = (st: ResolvedStruct, prefix: string, chain: Read['chain'], depth: number): boolean => {
    for (const f of st.fields) {
      if (out.length > MAX_INTEROP_READS || depth > 64) return false;
      if (LEAF_KINDS.has(f.kind)) {
        out.push({ path: `${prefix}${f.name}`, chain: [...chain, { field: f, index: 0 }], count: f.count });
      } else if (f.kind === 'struct' && f.struct !== undefined) {
        const inner = findStruct(abi, f.struct);
        if (!inner) continue;
        for (let i = 0; i < f.count; i++) {
          const at = f.count === 1 ? `${prefix}${f.name}.` : `${prefix}${f.name}[${i}].`;
          if (!walk(inner, at, [...chain, { field: f, index: i }], depth + 1)) return false;
        }
      }
    }
    return out.length <= MAX_INTEROP_READS;
  };
  return walk(s, '', [], 0) ? out : undefined;
}

/** What a consumer's read must print for data produced at revision `producer`. */
function expectedFor(read: Read, producer: ResolvedAbi, top: ResolvedStruct): bigint[] {
  const zeros = Array.from({ length: read.count }, () => 0n);
  let s: ResolvedStruct | undefined = top;
  let base = 0;
  for (const [level, step] of read.chain.entries()) {
    if (!s) return zeros;
    const g = matching(s, step.field);
    if (!g || step.index >= g.count) return zeros;
    if (level === read.chain.length - 1) {
      if (!LEAF_KINDS.has(g.kind)) return zeros;
      const w = elementWidth(g);
      return zeros.map((_, e) => (e < g.count ? valueAt(base + g.offset + e * w, w) : 0n));
    }
    if (g.kind !== 'struct' || g.struct === undefined) return zeros;
    base += g.offset + step.index * elementWidth(g);
    s = findStruct(producer, g.struct);
  }
  return zeros;
}

/** Revision N's producer: every element of every field holds valueAt(its offset, its width). */
export function produce(abi: ResolvedAbi, s: ResolvedStruct): Uint8Array {
  const bytes = new Uint8Array(s.size);
  const view = new DataView(bytes.buffer);
  const little = endianness() === 'LE';
  const fill = (st: ResolvedStruct, base: number, depth: number) => {
    for (const f of st.fields) {
      const w = elementWidth(f);
      if (LEAF_KINDS.has(f.kind)) {
        if (w !== 1 && w !== 2 && w !== 4 && w !== 8) continue;
        for (let e = 0; e < f.count; e++) {
          const at = base + f.offset + e * w;
          if (at + w > bytes.length) break;
          const v = valueAt(at, w);
          if (w === 1) view.setUint8(at, Number(v));
          else if (w === 2) view.setUint16(at, Number(v), little);
          else if (w === 4) view.setUint32(at, Number(v), little);
          else view.setBigUint64(at, v, little);
        }
      } else if (f.kind === 'struct' && f.struct !== undefined && depth < 64) {
        const inner = findStruct(abi, f.struct);
        if (inner) for (let e = 0; e < f.count; e++) fill(inner, base + f.offset + e * w, depth + 1);
      }
    }
  };
  fill(s, 0, 0);
  return bytes;
}

function printFunction(abi: ResolvedAbi, s: ResolvedStruct, reads: Read[]): string {
  const lines = [`static void print_${s.name}(const struct ${cStructTag(abi.abi, s.name)} *x)`, '{', '\t(void)x;'];
  for (const r of reads) {
    const char = r.chain.at(-1)?.field.kind === 'char';
    const value = (access: string) => (char ? `(unsigned char)x->${access}` : `x->${access}`);
    if (r.chain.at(-1)?.field.kind === 'array' || char) {
      lines.push(`\tfor (size_t i = 0; i < ${r.count}; i++) pr((unsigned long long)${value(`${r.path}[i]`)});`);
    } else {
      lines.push(`\tpr((unsigned long long)${value(r.path)});`);
    }
  }
  lines.push('}', '');
  return lines.join('\n');
}

function bytesLiteral(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    parts.push(`\t${[...bytes.subarray(i, i + 16)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')},`);
  }
  return parts.join('\n');
}

interface Block {
  producer: ResolvedAbi;
  struct: ResolvedStruct;
  expected: { where: string; value: bigint }[];
}

/** The consumer program for header `consumer`, reading each producer's data. */
function consumerProgram(
  consumer: ResolvedAbi,
  producers: ResolvedAbi[],
): { source: string; blocks: Block[]; skipped: string[] } {
  const src = ['#include <stdio.h>', '#include <string.h>', '#include "abi.h"', ''];
  src.push('static void pr(unsigned long long v)', '{', '\tprintf("%llu\\n", v);', '}', '');
  const blocks: Block[] = [];
  const main: string[] = ['int main(void)', '{'];
  const readsByStruct = new Map<string, Read[]>();
  const skipped: string[] = [];
  for (const s of consumer.structs) {
    const reads = readsOf(consumer, s);
    const big = [consumer, ...producers].some((r) => (findStruct(r, s.name)?.size ?? 0) > MAX_INTEROP_BYTES);
    if (reads === undefined || big) skipped.push(s.name);
    else readsByStruct.set(s.name, reads);
  }
  const checked = consumer.structs.filter((s) => readsByStruct.has(s.name));
  for (const s of checked) src.push(printFunction(consumer, s, readsByStruct.get(s.name) ?? []));
  producers.forEach((producer, p) => {
    for (const s of checked) {
      const ps = findStruct(producer, s.name);
      if (!ps) continue;
      const buf = `data_${p}_${s.name}`;
      src.push(`static const unsigned char ${buf}[${ps.size}] = {`, bytesLiteral(produce(producer, ps)), '};', '');
      const tag = `struct ${cStructTag(consumer.abi, s.name)}`;
      main.push(
        '\t{',
        `\t\t${tag} x;`,
        '\t\tmemset(&x, 0, sizeof x);',
        `\t\tmemcpy(&x, ${buf}, sizeof ${buf} < sizeof x ? sizeof ${buf} : sizeof x);`,
        `\t\tprint_${s.name}(&x);`,
        '\t}',
      );
      const expected: Block['expected'] = [];
      for (const r of readsByStruct.get(s.name) ?? []) {
        const values = expectedFor(r, producer, ps);
        values.forEach((value, e) => {
          const many = r.count > 1 || r.chain.at(-1)?.field.kind === 'array';
          expected.push({ where: `${s.name}.${r.path}${many ? `[${e}]` : ''}`, value });
        });
      }
      blocks.push({ producer, struct: s, expected });
    }
  });
  main.push('\treturn 0;', '}', '');
  return { source: [...src, ...main].join('\n'), blocks, skipped };
}

/** The C compiler: $CC or cc, checked to run. */
export function cCompiler(): string {
  const cc = process.env.CC?.trim() || 'cc';
  const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new EnvironmentError(
      `no C compiler: ${cc} does not run (install one, set CC, or pass --no-compile to skip the C checks)`,
    );
  }
  return cc;
}

const FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O0'];

/** The compiler's first lines, without the temporary directory's name. */
function diagnostics(r: ReturnType<typeof spawnSync>, dir: string): string {
  if (r.error) return r.error.message;
  const text = `${r.stderr}${r.stdout}`.split(`${dir}/`).join('');
  return text.trim().split('\n').slice(0, 3).join(' | ');
}

/**
 * Compiles and runs the consumers of `revisions` (same major, in order; the working schema may be
 * last as revision 0). Returns the problems as check lines.
 */
export function checkCInterop(revisions: ResolvedAbi[], cc = cCompiler()): InteropResult {
  const result: InteropResult = { consumers: 0, pairs: 0, errors: 0, lines: [], notes: [] };
  const report = (line: string) => {
    result.errors++;
    if (result.lines.length < MAX_LINES) result.lines.push(line);
  };
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-abi-interop-'));
  try {
    revisions.forEach((consumer, m) => {
      const producers = producersFor(revisions.length, m).map((i) => revisions[i] as ResolvedAbi);
      const name = `${consumer.abi} ${label(consumer)}`;
      writeFileSync(join(dir, 'abi.h'), generateCHeader(consumer));
      // The header alone first, so a failure says whose it is.
      const alone = join(dir, 'header-only.c');
      writeFileSync(alone, '#include "abi.h"\nint header_only;\n');
      const header = spawnSync(cc, [...FLAGS, '-I', dir, '-fsyntax-only', alone], { encoding: 'utf8' });
      result.consumers++;
      if (header.error || header.status !== 0) {
        report(`${name}: c-compile: the header does not compile: ${diagnostics(header, dir)}`);
        return;
      }
      const { source, blocks, skipped } = consumerProgram(consumer, producers);
      for (const struct of skipped) {
        result.notes.push(
          `${name}: ${struct}: c-interop: info: not read by the C consumer (over ${MAX_INTEROP_BYTES} bytes or ${MAX_INTEROP_READS} fields)`,
        );
      }
      const file = join(dir, `consumer-${m}.c`);
      const exe = join(dir, `consumer-${m}`);
      writeFileSync(file, source);
      const built = spawnSync(cc, [...FLAGS, '-I', dir, '-o', exe, file], { encoding: 'utf8' });
      if (built.error || built.status !== 0) {
        report(`${name}: c-compile: the consumer does not compile: ${diagnostics(built, dir)}`);
        return;
      }
      const run = spawnSync(exe, [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (run.error || run.status !== 0) {
        report(`${name}: c-interop: the consumer failed (${run.error?.message ?? `exit ${run.status}`})`);
        return;
      }
      const printed = run.stdout.split('\n');
      let at = 0;
      for (const block of blocks) {
        const pair = `${name} reading ${label(block.producer)}`;
        for (const { where, value } of block.expected) {
          const got = printed[at++];
          if (got !== value.toString())
            report(`${pair}: ${where}: c-interop: read ${got ?? 'nothing'}, expected ${value}`);
        }
      }
      result.pairs += producers.length;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (result.errors > result.lines.length) {
    result.lines.push(`… and ${result.errors - result.lines.length} more c-interop error(s)`);
  }
  return result;
}
