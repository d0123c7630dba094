/**
 * Test helper: compile generated headers with the system C and C++ compilers and ask
 * the compiler what it thinks every size, offset, alignment and macro value is.
 *
 * The probe program prints one line per fact (`S`ize, `A`lignment, `O`ffset, field
 * si`Z`e, `C`onstant); the expected lines come from the resolved layout, so a test
 * compares the compiler with the layout engine line by line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCHeader } from '../../src/abi/gen-c.ts';
import { cStructTag, headerMacros } from '../../src/abi/gen-common.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';

export const STRICT = ['-Wall', '-Wextra', '-Werror', '-pedantic'];

export type Lang = 'c' | 'c++';

function compilerOf(lang: Lang): { bin: string; std: string; ext: string } {
  return lang === 'c' ? { bin: 'cc', std: '-std=c11', ext: 'c' } : { bin: 'c++', std: '-std=c++17', ext: 'cpp' };
}

export function hasCompiler(bin: string): boolean {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Whether `cc -m32` can at least type-check a translation unit that includes <stdint.h>. */
export function canCheckM32(dir: string): boolean {
  const file = join(dir, 'm32-probe.c');
  writeFileSync(file, '#include <stdint.h>\n#include <stddef.h>\ntypedef uint64_t probe_t;\n');
  return spawnSync('cc', ['-m32', '-ffreestanding', '-std=c11', '-fsyntax-only', file]).status === 0;
}

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-abi-gen-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes each ABI's header as `<abi>.h` into dir. */
export function writeHeaders(dir: string, abis: ResolvedAbi[]): void {
  for (const abi of abis) writeFileSync(join(dir, `${abi.abi}.h`), generateCHeader(abi));
}

/** The probe program for a set of ABIs (their headers are expected in the same directory). */
export function probeSource(abis: ResolvedAbi[]): string {
  const lines = ['#include <stdio.h>', ...abis.map((a) => `#include "${a.abi}.h"`), '', 'int main(void)', '{'];
  const u = (label: string, expr: string) =>
    lines.push(`\tprintf("%s %llu\\n", "${label}", (unsigned long long)(${expr}));`);
  for (const abi of abis) {
    for (const s of abi.structs) {
      const t = `struct ${cStructTag(abi.abi, s.name)}`;
      u(`S ${abi.abi}.${s.name}`, `sizeof(${t})`);
      u(`A ${abi.abi}.${s.name}`, `HVKIT_ALIGNOF(${t})`);
      for (const f of s.fields) {
        u(`O ${abi.abi}.${s.name}.${f.name}`, `offsetof(${t}, ${f.name})`);
        u(`Z ${abi.abi}.${s.name}.${f.name}`, `sizeof(((${t} *)0)->${f.name})`);
      }
    }
    for (const m of headerMacros(abi)) {
      if (m.signed) lines.push(`\tprintf("%s %lld\\n", "C ${m.name}", (long long)(${m.name}));`);
      else u(`C ${m.name}`, m.name);
    }
  }
  lines.push('\treturn 0;', '}', '');
  return lines.join('\n');
}

/** What the probe must print, from the resolved layout alone. */
export function expectedProbe(abis: ResolvedAbi[]): string[] {
  const out: string[] = [];
  for (const abi of abis) {
    for (const s of abi.structs) {
      out.push(`S ${abi.abi}.${s.name} ${s.size}`, `A ${abi.abi}.${s.name} ${s.align}`);
      for (const f of s.fields) {
        out.push(`O ${abi.abi}.${s.name}.${f.name} ${f.offset}`, `Z ${abi.abi}.${s.name}.${f.name} ${f.size}`);
      }
    }
    for (const m of headerMacros(abi)) out.push(`C ${m.name} ${m.value}`);
  }
  return out;
}

export interface Compiled {
  ok: boolean;
  diagnostics: string;
  output: string[];
}

/** Compile `source` (in dir, next to the headers) with all warnings as errors, then run it. */
export function compileAndRun(dir: string, lang: Lang, source: string, name = 'probe'): Compiled {
  const { bin, std, ext } = compilerOf(lang);
  const src = join(dir, `${name}.${ext}`);
  const exe = join(dir, `${name}-${ext}`);
  writeFileSync(src, source);
  const cc = spawnSync(bin, [std, ...STRICT, '-I', dir, '-o', exe, src], { encoding: 'utf8' });
  if (cc.status !== 0) return { ok: false, diagnostics: `${cc.stderr}${cc.stdout}`, output: [] };
  const run = spawnSync(exe, [], { encoding: 'utf8' });
  if (run.status !== 0) return { ok: false, diagnostics: `probe exited with ${run.status}: ${run.stderr}`, output: [] };
  return { ok: true, diagnostics: cc.stderr, output: run.stdout.trimEnd().split('\n') };
}

/** Type-check `source` only (no linking), with extra flags such as `-m32 -ffreestanding`. */
export function syntaxCheck(dir: string, lang: Lang, source: string, extra: string[], name = 'check'): Compiled {
  const { bin, std, ext } = compilerOf(lang);
  const src = join(dir, `${name}.${ext}`);
  writeFileSync(src, source);
  const cc = spawnSync(bin, [std, ...STRICT, ...extra, '-I', dir, '-fsyntax-only', src], { encoding: 'utf8' });
  return { ok: cc.status === 0, diagnostics: `${cc.stderr}${cc.stdout}`, output: [] };
}
