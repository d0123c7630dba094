/** Where `hvkit abi` finds a project's schemas: --schemas, hvkit.abi.json walking up, this repository. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_SCHEMAS_ROOT } from '../../src/abi/registry.ts';
import { CONFIG_FILE, findSchemas, locateSchemas, readConfig, shownPath } from '../../src/abi/schemas-root.ts';
import { UsageError } from '../../src/errors.ts';
import { REPO_ROOT } from './run-in.ts';

const base = mkdtempSync(join(tmpdir(), 'hvkit-abi-root-'));
after(() => rmSync(base, { recursive: true, force: true }));

function project(name: string, config?: string): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, CONFIG_FILE), config);
  return dir;
}

describe('findSchemas', () => {
  test('the config file is found walking up, its path relative to the file', () => {
    const dir = project('walk', '{ "schemas": "abi/defs" }');
    const found = findSchemas({ cwd: join(dir, 'deep', 'er') });
    assert.deepEqual(found, {
      root: join(dir, 'abi', 'defs'),
      project: dir,
      source: 'config',
      config: join(dir, CONFIG_FILE),
    });
    assert.equal(shownPath(found, join(dir, 'abi', 'defs', 'x', 'schema.ts')), join('abi', 'defs', 'x', 'schema.ts'));
  });

  test('--schemas wins over a config file, relative to the working directory', () => {
    const dir = project('flag', '{ "schemas": "abi" }');
    const found = findSchemas({ cwd: join(dir, 'deep'), flag: '../elsewhere' });
    assert.equal(found?.root, join(dir, 'elsewhere'));
    assert.equal(found?.source, 'flag');
  });

  test('inside this repository without a config: its own schemas/', () => {
    const found = findSchemas({ cwd: join(REPO_ROOT, 'src', 'abi') });
    assert.equal(found?.root, DEFAULT_SCHEMAS_ROOT);
    assert.equal(found?.source, 'repository');
  });

  test('nowhere: undefined, and locateSchemas says how to fix it', () => {
    const dir = project('none');
    assert.equal(findSchemas({ cwd: dir }), undefined);
    assert.throws(
      () => locateSchemas({ cwd: dir }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /--schemas DIR.*hvkit\.abi\.json/);
        return true;
      },
    );
  });

  test('an empty --schemas is a usage error', () => {
    assert.throws(() => findSchemas({ cwd: base, flag: '' }), UsageError);
  });
});

describe('readConfig', () => {
  const badConfigs: [string, string][] = [
    ['not JSON', '{ schemas: abi }'],
    ['an array', '["abi"]'],
    ['null', 'null'],
    ['no schemas key', '{ "schema": "abi" }'],
    ['a number', '{ "schemas": 3 }'],
    ['an empty directory', '{ "schemas": "" }'],
  ];
  for (const [label, text] of badConfigs) {
    test(`${label} is a usage error naming the file`, () => {
      const dir = project(`bad-${label.replace(/ /g, '-')}`, text);
      assert.throws(
        () => findSchemas({ cwd: dir }),
        (e: unknown) => {
          assert.ok(e instanceof UsageError, String(e));
          assert.ok(e.message.includes(join(dir, CONFIG_FILE)), e.message);
          return true;
        },
      );
    });
  }

  test('any content: a config or a UsageError, nothing else', () => {
    const file = join(base, 'fuzz.json');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ schemas: v })),
        ),
        (text) => {
          writeFileSync(file, text);
          try {
            const c = readConfig(file);
            assert.equal(typeof c.schemas, 'string');
            assert.notEqual(c.schemas, '');
          } catch (e) {
            if (!(e instanceof UsageError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
