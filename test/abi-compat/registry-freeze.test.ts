/** The registry and freeze on a temporary schemas root. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAbiCheck } from '../../src/abi/check.ts';
import { FreezeRefused, freezeAbi } from '../../src/abi/freeze.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { serializeLock } from '../../src/abi/lockfile.ts';
import { listAbis, loadAbi, loadRevisions } from '../../src/abi/registry.ts';
import type { AbiSpec } from '../../src/abi/schema.ts';
import { int } from '../../src/abi/schema.ts';
import { FormatError, UsageError } from '../../src/errors.ts';
import { baseSpec, mutated, struct } from './fixture.ts';

let root = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hvkit-abi-'));
  // Schemas written here are plain data modules; make them ESM like the repository's.
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeSchema(dir: string, spec: AbiSpec): Promise<void> {
  await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, dir, 'schema.ts'), `export default ${JSON.stringify(spec, null, 2)};\n`);
}

function named(name: string, spec = baseSpec()): AbiSpec {
  return { ...spec, name };
}

async function revisionFiles(name: string): Promise<string[]> {
  return (await readdir(join(root, name, 'revisions'))).sort();
}

describe('registry', () => {
  test('lists directories with a schema.ts, skipping _fixtures', async () => {
    await writeSchema('alpha', named('alpha'));
    await writeSchema('_fixture', named('fixture'));
    await mkdir(join(root, 'empty'), { recursive: true });
    assert.deepEqual(await listAbis(root), ['alpha']);
  });

  test('an ABI without revisions loads with none', async () => {
    const loaded = await loadAbi('alpha', root);
    assert.equal(loaded.current.revision, 0);
    assert.deepEqual(loaded.current, resolveAbi(named('alpha'), 0));
    assert.deepEqual(loaded.revisions, []);
  });

  test('an unknown ABI is a usage error', async () => {
    await assert.rejects(loadAbi('nope', root), UsageError);
  });

  test('a schema whose name differs from its directory is refused', async () => {
    await writeSchema('mismatch', named('other'));
    await assert.rejects(loadAbi('mismatch', root), (e: unknown) => e instanceof FormatError && e.rule === 'abi-name');
  });

  test('a gap in the revisions is an error', async () => {
    await writeSchema('gappy', named('gappy'));
    await mkdir(join(root, 'gappy', 'revisions'));
    await writeFile(join(root, 'gappy', 'revisions', 'rev-1.lock.json'), serializeLock(resolveAbi(named('gappy'), 1)));
    await writeFile(join(root, 'gappy', 'revisions', 'rev-3.lock.json'), serializeLock(resolveAbi(named('gappy'), 3)));
    await assert.rejects(
      loadRevisions('gappy', root),
      (e: unknown) => e instanceof FormatError && e.rule === 'revision-gap',
    );
  });

  test('a lock whose revision or abi disagrees with its file name is an error', async () => {
    await writeSchema('liar', named('liar'));
    const dir = join(root, 'liar', 'revisions');
    await mkdir(dir);
    await writeFile(join(dir, 'rev-1.lock.json'), serializeLock(resolveAbi(named('liar'), 2)));
    await assert.rejects(
      loadRevisions('liar', root),
      (e: unknown) => e instanceof FormatError && e.rule === 'lock-revision-mismatch',
    );
    await writeFile(join(dir, 'rev-1.lock.json'), serializeLock(resolveAbi(named('alpha'), 1)));
    await assert.rejects(
      loadRevisions('liar', root),
      (e: unknown) => e instanceof FormatError && e.rule === 'lock-abi-mismatch',
    );
  });

  test('oddly named lock files are refused', async () => {
    await writeSchema('odd', named('odd'));
    await mkdir(join(root, 'odd', 'revisions'));
    await writeFile(join(root, 'odd', 'revisions', 'rev-01.lock.json'), serializeLock(resolveAbi(named('odd'), 1)));
    await assert.rejects(
      loadRevisions('odd', root),
      (e: unknown) => e instanceof FormatError && e.rule === 'lock-name',
    );
  });
});

describe('freeze', () => {
  test('freezes revision 1, then refuses nothing-changed, then freezes revision 2', async () => {
    const v1 = named('beta');
    await writeSchema('beta', v1);
    const first = await freezeAbi('beta', root);
    assert.equal(first.revision, 1);
    assert.equal(await readFile(first.path, 'utf8'), serializeLock(resolveAbi(v1, 1)));

    await assert.rejects(
      freezeAbi('beta', root),
      (e: unknown) => e instanceof FreezeRefused && e.reason === 'unchanged',
    );
    assert.deepEqual(await revisionFiles('beta'), ['rev-1.lock.json']);

    // The schema is re-read on every call: an edit made while the process runs is seen.
    const v2 = mutated((s) => struct(s, 'body').fields.push(int('c', 'u32', 'C.')), v1);
    await writeSchema('beta', v2);
    const second = await freezeAbi('beta', root);
    assert.equal(second.revision, 2);
    assert.deepEqual(await revisionFiles('beta'), ['rev-1.lock.json', 'rev-2.lock.json']);
    assert.deepEqual(
      (await loadRevisions('beta', root)).map((r) => r.revision),
      [1, 2],
    );
  });

  test('refuses an incompatible schema and writes nothing', async () => {
    await writeSchema('gamma', named('gamma'));
    await freezeAbi('gamma', root);
    await writeSchema(
      'gamma',
      mutated((s) => struct(s, 'body').fields.reverse(), named('gamma')),
    );
    await assert.rejects(freezeAbi('gamma', root), (e: unknown) => {
      assert.ok(e instanceof FreezeRefused);
      assert.equal(e.reason, 'incompatible');
      assert.ok(e.violations.some((v) => v.rule === 'field-moved' && v.struct === 'body' && v.revision === 1));
      return true;
    });
    assert.deepEqual(await revisionFiles('gamma'), ['rev-1.lock.json']);
  });

  test('reports accepted renames as warnings', async () => {
    await writeSchema('delta', named('delta'));
    await freezeAbi('delta', root);
    await writeSchema(
      'delta',
      mutated((s) => {
        struct(s, 'body').fields[0] = int('alpha', 'u32', 'A.', { renamedFrom: ['a'] });
      }, named('delta')),
    );
    const result = await freezeAbi('delta', root);
    assert.equal(result.revision, 2);
    assert.deepEqual(
      result.warnings.map((w) => `${w.struct}.${w.field}: ${w.rule}`),
      ['body.alpha: renamed'],
    );
  });
});

describe('runAbiCheck', () => {
  test('lines and counts per ABI; a broken ABI counts as an error', async () => {
    const sub = await mkdtemp(join(root, 'check-'));
    await writeFile(join(sub, 'package.json'), '{ "type": "module" }\n');
    const write = async (name: string, spec: AbiSpec) => {
      await mkdir(join(sub, name), { recursive: true });
      await writeFile(join(sub, name, 'schema.ts'), `export default ${JSON.stringify(spec)};\n`);
    };
    await write('good', named('good'));
    await freezeAbi('good', sub);
    await write('bad', named('bad'));
    await freezeAbi('bad', sub);
    await write(
      'bad',
      mutated((s) => struct(s, 'body').fields.reverse(), named('bad')),
    );

    const all = await runAbiCheck(undefined, sub);
    assert.equal(all.errors, 3);
    assert.equal(all.warnings, 0);
    assert.ok(all.lines.includes('bad rev 1: body.a: field-moved: offset was 0, now 12'), all.lines.join('\n'));
    assert.ok(all.lines.includes('good: major 1: compatible with revisions 1'), all.lines.join('\n'));

    const good = await runAbiCheck(['good'], sub);
    assert.deepEqual(good, { lines: ['good: major 1: compatible with revisions 1'], errors: 0, warnings: 0 });

    await assert.rejects(runAbiCheck(['missing'], sub), UsageError);

    await writeFile(join(sub, 'good', 'revisions', 'rev-1.lock.json'), '{ "truncated": ');
    const broken = await runAbiCheck(['good'], sub);
    assert.equal(broken.errors, 1);
    assert.match(broken.lines[0] ?? '', /^good: cannot load: .*json-syntax/);
  });
});
