/**
 * A lock file's major is input like any other: a hand-edited major must neither pass a breaking
 * change through `abi check` nor let `abi freeze` write one (the checker skips revisions of older
 * majors, so an edited major used to take a revision out of the comparison).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAbiCheck } from '../../src/abi/check.ts';
import { freezeAbi } from '../../src/abi/freeze.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { parseLock, serializeLock } from '../../src/abi/lockfile.ts';
import { loadAbi } from '../../src/abi/registry.ts';
import type { AbiSpec } from '../../src/abi/schema.ts';
import { FormatError } from '../../src/errors.ts';
import { baseSpec, mutated, struct } from './fixture.ts';

let root = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hvkit-abi-major-'));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeSchema(name: string, spec: AbiSpec): Promise<void> {
  await mkdir(join(root, name), { recursive: true });
  await writeFile(join(root, name, 'schema.ts'), `export default ${JSON.stringify({ ...spec, name }, null, 2)};\n`);
}

const lockFile = (name: string, n: number) => join(root, name, 'revisions', `rev-${n}.lock.json`);

/** Rewrites the major of a frozen lock, the way a hand edit would. */
async function editMajor(name: string, n: number, major: number): Promise<void> {
  const lock = JSON.parse(await readFile(lockFile(name, n), 'utf8'));
  lock.major = major;
  await writeFile(lockFile(name, n), serializeLock(lock));
}

async function lockNames(name: string): Promise<string[]> {
  return (await readdir(join(root, name, 'revisions'))).sort();
}

/** The fixture with its first two fields swapped: a break against any revision that had them. */
const breaking = (spec: AbiSpec) => mutated((s) => struct(s, 'body').fields.reverse(), spec);

const isMajorMismatch = (e: unknown) =>
  e instanceof FormatError && e.rule === 'lock-major-mismatch' && e.field.endsWith('.lock.json: major');

describe('lock majors', () => {
  test('the lock reader refuses a major below 1, naming the field and the rule', () => {
    const text = serializeLock({ ...resolveAbi(baseSpec(), 1), major: 0 });
    assert.throws(
      () => parseLock(text, 'rev-1.lock.json'),
      (e: unknown) => e instanceof FormatError && e.field === 'major' && e.rule === 'range',
    );
  });

  test('a lock edited to major 0 is refused by check and by freeze, which writes nothing', async () => {
    await writeSchema('zero', baseSpec());
    await freezeAbi('zero', root);
    await editMajor('zero', 1, 0);
    await writeSchema('zero', breaking(baseSpec()));

    const checked = await runAbiCheck(['zero'], root);
    assert.equal(checked.errors, 1, checked.lines.join('\n'));
    assert.match(checked.lines.join('\n'), /^zero: cannot load: .*major: range: .*\(value 0\)$/m);

    await assert.rejects(freezeAbi('zero', root), (e: unknown) => e instanceof FormatError && e.field === 'major');
    assert.deepEqual(await lockNames('zero'), ['rev-1.lock.json']);
  });

  test('a lock edited to an older major cannot skip the check of a breaking change', async () => {
    // Major 2 since revision 2: revision 1 is of major 1 and skipped, revision 2 is compared.
    const v2 = { ...baseSpec(), major: 2, majorSince: 2 };
    await writeSchema('bumped', { ...baseSpec(), major: 1 });
    await freezeAbi('bumped', root);
    await writeSchema('bumped', v2);
    await freezeAbi('bumped', root);
    assert.equal((await runAbiCheck(['bumped'], root)).errors, 0);

    await writeSchema('bumped', breaking(v2));
    assert.ok((await runAbiCheck(['bumped'], root)).errors > 0, 'the break is seen against revision 2');
    // Editing revision 2 down to major 1 would have the checker skip it.
    await editMajor('bumped', 2, 1);
    const checked = await runAbiCheck(['bumped'], root);
    assert.equal(checked.errors, 1, checked.lines.join('\n'));
    assert.match(checked.lines[0] ?? '', /rev-2\.lock\.json: major: lock-major-mismatch: says major 1/);
    await assert.rejects(freezeAbi('bumped', root), isMajorMismatch);
    assert.deepEqual(await lockNames('bumped'), ['rev-1.lock.json', 'rev-2.lock.json']);
  });

  test('a major bump must be declared: locks of another major without majorSince are refused', async () => {
    await writeSchema('undeclared', baseSpec());
    await freezeAbi('undeclared', root);
    await writeSchema('undeclared', breaking({ ...baseSpec(), major: 2 }));
    await assert.rejects(loadAbi('undeclared', root), isMajorMismatch);
    await assert.rejects(freezeAbi('undeclared', root), isMajorMismatch);
    assert.deepEqual(await lockNames('undeclared'), ['rev-1.lock.json']);
    // Declared, the same deliberate break freezes as revision 2 of major 2.
    await writeSchema('undeclared', breaking({ ...baseSpec(), major: 2, majorSince: 2 }));
    const frozen = await freezeAbi('undeclared', root);
    assert.equal(frozen.revision, 2);
    assert.equal(JSON.parse(await readFile(frozen.path, 'utf8')).major, 2);
  });

  test('majors never decrease, and majorSince may not point past the next revision', async () => {
    await writeSchema('order', { ...baseSpec(), major: 3, majorSince: 3 });
    await mkdir(join(root, 'order', 'revisions'), { recursive: true });
    const lock = (n: number, major: number) =>
      serializeLock({ ...resolveAbi({ ...baseSpec(), name: 'order' }, 1), revision: n, major });
    await writeFile(lockFile('order', 1), lock(1, 2));
    await writeFile(lockFile('order', 2), lock(2, 1));
    await assert.rejects(loadAbi('order', root), isMajorMismatch);
    await writeFile(lockFile('order', 2), lock(2, 2));
    assert.equal((await loadAbi('order', root)).revisions.length, 2);

    await writeSchema('order', { ...baseSpec(), major: 3, majorSince: 9 });
    await assert.rejects(
      loadAbi('order', root),
      (e: unknown) => e instanceof FormatError && e.rule === 'major-since-range',
    );
  });

  test('a schema with major 0 is refused', async () => {
    await writeSchema('schema-zero', { ...baseSpec(), major: 0 });
    await assert.rejects(
      loadAbi('schema-zero', root),
      (e: unknown) => e instanceof FormatError && e.field === 'major' && e.rule === 'major-range',
    );
  });
});
