/**
 * The generated C headers compile as C11 and C++17 with every warning an error, and the
 * compiler agrees with the layout engine on every size, offset, alignment and value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadGenSources } from '../../src/abi/gen-common.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { listAbis } from '../../src/abi/registry.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import {
  canCheckM32,
  compileAndRun,
  expectedProbe,
  hasCompiler,
  type Lang,
  probeSource,
  syntaxCheck,
  withTempDir,
  writeHeaders,
} from './cprobe.ts';
import { inMemorySchemas, randomSchemaArb } from './schemas.ts';

const LANGS: Lang[] = ['c', 'c++'];
const compilers = { c: hasCompiler('cc'), 'c++': hasCompiler('c++') };

/** Every ABI under schemas/: the working schema and each frozen revision. */
async function repositoryAbis(): Promise<ResolvedAbi[]> {
  const out: ResolvedAbi[] = [];
  for (const name of await listAbis()) {
    const { working, revisions } = await loadGenSources(name);
    out.push(working, ...revisions);
  }
  return out;
}

/** One header per ABI; the probe for each is compiled and run in each language. */
function assertCompilerAgrees(t: { skip(msg: string): void }, abis: ResolvedAbi[]): void {
  withTempDir((dir) => {
    for (const lang of LANGS) {
      if (!compilers[lang]) {
        t.skip(`${lang === 'c' ? 'cc' : 'c++'} is not installed`);
        continue;
      }
      for (const abi of abis) {
        writeHeaders(dir, [abi]);
        const r = compileAndRun(dir, lang, probeSource([abi]));
        assert.ok(r.ok, `${abi.abi} rev ${abi.revision} (${lang}):\n${r.diagnostics}`);
        assert.deepEqual(r.output, expectedProbe([abi]), `${abi.abi} rev ${abi.revision} (${lang})`);
      }
    }
  });
}

describe('generated C headers', () => {
  it('compile and match the layout for every ABI in schemas/ (every revision)', async (t) => {
    const abis = await repositoryAbis();
    assert.ok(abis.length > 0, 'schemas/ holds at least one ABI');
    assertCompilerAgrees(t, abis);
  });

  it('compile and match the layout for the in-memory corner-case schemas', (t) => {
    assertCompilerAgrees(
      t,
      inMemorySchemas.map((s) => resolveAbi(s)),
    );
  });

  it('compile and match the layout for random schemas (one translation unit)', (t) => {
    const abis = fc
      .sample(randomSchemaArb(0), { numRuns: 40, seed: 20240611 })
      .map((s, i) => resolveAbi({ ...s, name: `rnd-${i}` }));
    withTempDir((dir) => {
      writeHeaders(dir, abis);
      for (const lang of LANGS) {
        if (!compilers[lang]) {
          t.skip(`${lang} compiler is not installed`);
          continue;
        }
        const r = compileAndRun(dir, lang, probeSource(abis));
        assert.ok(r.ok, `${lang}:\n${r.diagnostics}`);
        assert.deepEqual(r.output, expectedProbe(abis), lang);
      }
    });
  });

  it('can all be included in one translation unit', async (t) => {
    const abis = [
      ...(await Promise.all((await listAbis()).map(async (n) => (await loadGenSources(n)).described))),
      ...inMemorySchemas.map((s) => resolveAbi(s)),
    ];
    withTempDir((dir) => {
      writeHeaders(dir, abis);
      // Each header twice: the include guards must hold.
      const includes = [...abis, ...abis].map((a) => `#include "${a.abi}.h"`).join('\n');
      for (const lang of LANGS) {
        if (!compilers[lang]) {
          t.skip(`${lang} compiler is not installed`);
          continue;
        }
        const r = syntaxCheck(dir, lang, `${includes}\nint main(void) { return 0; }\n`, []);
        assert.ok(r.ok, `${lang}:\n${r.diagnostics}`);
      }
    });
  });

  it('type-check for a 32-bit target (sizes and offsets do not depend on u64 alignment)', async (t) => {
    if (!compilers.c) {
      t.skip('cc is not installed');
      return;
    }
    const abis = [
      ...(await repositoryAbis()),
      ...inMemorySchemas.map((s) => resolveAbi(s)),
      ...fc.sample(randomSchemaArb(0), { numRuns: 20, seed: 7 }).map((s, i) => resolveAbi({ ...s, name: `rnd-${i}` })),
    ];
    // Revisions of one ABI share a header name, so each is checked in its own directory.
    let skipped = false;
    for (const abi of abis) {
      withTempDir((dir) => {
        if (skipped) return;
        if (!canCheckM32(dir)) {
          skipped = true;
          return;
        }
        writeHeaders(dir, [abi]);
        for (const lang of LANGS) {
          if (!compilers[lang]) continue;
          // -ffreestanding uses the compiler's own <stdint.h>, so no 32-bit libc is needed.
          const r = syntaxCheck(dir, lang, `#include "${abi.abi}.h"\n`, ['-m32', '-ffreestanding']);
          assert.ok(r.ok, `${abi.abi} rev ${abi.revision} (${lang} -m32):\n${r.diagnostics}`);
        }
      });
      if (skipped) break;
    }
    if (skipped) t.skip('cc -m32 cannot compile on this machine (no 32-bit support)');
  });
});
