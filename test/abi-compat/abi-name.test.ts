/**
 * One ABI-name check for every `hvkit abi` command: a name is a plain directory name under
 * schemas/, checked before anything is imported. A schema.ts planted outside schemas/ that would
 * leave a marker file when imported shows that no command runs it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { abiDirectory } from '../../src/abi/abi-name.ts';
import { DEFAULT_SCHEMAS_ROOT, loadAbi } from '../../src/abi/registry.ts';
import { UsageError } from '../../src/errors.ts';
import { hvkit } from '../cli/run.ts';

let outside = '';
let marker = '';
/** A name that walks from the repository's schemas/ to the planted schema. */
let traversal = '';

before(async () => {
  outside = await mkdtemp(join(tmpdir(), 'hvkit-abi-name-'));
  marker = join(outside, 'imported.marker');
  await mkdir(join(outside, 'x'));
  await writeFile(join(outside, 'package.json'), '{ "type": "module" }\n');
  await writeFile(
    join(outside, 'x', 'schema.ts'),
    [
      "import { writeFileSync } from 'node:fs';",
      `writeFileSync(${JSON.stringify(marker)}, 'imported');`,
      "export default { name: 'x', doc: '', major: 1, structs: [{ name: 's', doc: '', sizing: 'fixed', fields: [{ kind: 'int', name: 'a', type: 'u32', doc: '' }] }] };",
      '',
    ].join('\n'),
  );
  traversal = relative(DEFAULT_SCHEMAS_ROOT, join(outside, 'x'));
});
after(async () => {
  await rm(outside, { recursive: true, force: true });
});

function refusedAsUsage(r: { code: number | null; err: string }, what: string): void {
  assert.equal(r.code, 2, `${what}: ${r.err}`);
  assert.match(r.err, /^hvkit: .*not an ABI name/, what);
  assert.equal(existsSync(marker), false, `${what} imported the planted schema`);
}

describe('ABI names', () => {
  test('every abi command refuses a path as an ABI name, with exit 2, importing nothing', () => {
    assert.ok(traversal.startsWith('..'), traversal);
    const commands = [
      ...[['check'], ['freeze'], ['gen', 'c'], ['gen', 'md']].map((cmd) => ['abi', ...cmd, traversal]),
      // The names of the issue, literally.
      ['abi', 'freeze', '../../x'],
      ['abi', 'gen', 'c', '../../x'],
      ['abi', 'gen', 'md', '../x'],
    ];
    for (const args of commands) refusedAsUsage(hvkit(...args), args.join(' '));
    // Nothing was frozen next to the planted schema either.
    assert.equal(existsSync(join(outside, 'x', 'revisions')), false);
  });

  test('names that are not kebab-case directory names are refused', () => {
    for (const bad of ['', '.', '..', 'a/b', '/etc', 'Stats', '_fixture', '-a', 'a--b', 'a-', 'a.b', 'x'.repeat(65)]) {
      assert.throws(() => abiDirectory(bad, DEFAULT_SCHEMAS_ROOT), UsageError, JSON.stringify(bad));
    }
    assert.equal(abiDirectory('stats-table', DEFAULT_SCHEMAS_ROOT), join(DEFAULT_SCHEMAS_ROOT, 'stats-table'));
  });

  test('a symbolic link under the schemas directory pointing outside it is refused', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hvkit-abi-root-'));
    try {
      await symlink(join(outside, 'x'), join(root, 'linked'));
      assert.throws(() => abiDirectory('linked', root), UsageError);
      await assert.rejects(loadAbi('linked', root), UsageError);
      assert.equal(existsSync(marker), false);
      assert.deepEqual(await readdir(root), ['linked']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
