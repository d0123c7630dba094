/**
 * `hvkit abi` in another project: init, freeze, check, gen and list on a project's own schemas
 * (hvkit.abi.json or --schemas), with the ABI-name check holding for any schemas directory.
 * The project reaches the schema language as 'hvkit/abi' through node_modules/hvkit, a link to
 * this checkout (test/abi-kit/pack.test.ts does the same with a real `npm install`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { hasCompiler } from '../abi-gen/cprobe.ts';
import { hvkitIn, hvkitInEnv, REPO_ROOT } from './run-in.ts';

const base = mkdtempSync(join(tmpdir(), 'hvkit-abi-project-'));
after(() => rmSync(base, { recursive: true, force: true }));

function newProject(name: string): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'hvkit'));
  return dir;
}

describe('hvkit abi in another project', () => {
  test('outside any project every abi command is a usage error that says what to do', () => {
    const dir = join(base, 'empty');
    mkdirSync(dir);
    for (const args of [['list'], ['check'], ['freeze', 'demo'], ['gen', 'c', 'demo']]) {
      const r = hvkitIn(dir, 'abi', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^hvkit: no schemas directory: pass --schemas DIR/);
    }
  });

  test('init writes a schema and hvkit.abi.json; it freezes and checks as written', () => {
    const dir = newProject('fresh');
    const init = hvkitIn(dir, 'abi', 'init', 'demo');
    assert.equal(init.code, 0, init.err);
    assert.equal(init.out, 'wrote schemas/demo/schema.ts\nwrote hvkit.abi.json\n');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'hvkit.abi.json'), 'utf8')), { schemas: 'schemas' });
    assert.equal(hvkitIn(dir, 'abi', 'list').out, 'demo\n');
    const freeze = hvkitIn(join(dir, 'schemas'), 'abi', 'freeze', 'demo');
    assert.equal(freeze.code, 0, freeze.err);
    // Paths relative to the project, wherever in it the command runs.
    assert.equal(freeze.out, 'demo: froze revision 1 into schemas/demo/revisions/rev-1.lock.json\n');
    const check = hvkitIn(dir, 'abi', 'check', '--no-compile');
    assert.equal(check.code, 0, check.err);
    assert.equal(check.out, 'demo: major 1: compatible with revisions 1\n');
    const header = hvkitIn(dir, 'abi', 'gen', 'c', 'demo');
    assert.equal(header.code, 0, header.err);
    assert.match(header.out, /struct hvkit_demo_header \{/);
  });

  test('init never overwrites: refused with exit 2, file unchanged; --force replaces', () => {
    const dir = newProject('again');
    assert.equal(hvkitIn(dir, 'abi', 'init', 'demo').code, 0);
    const schema = join(dir, 'schemas', 'demo', 'schema.ts');
    writeFileSync(schema, '// mine\n');
    const again = hvkitIn(dir, 'abi', 'init', 'demo');
    assert.equal(again.code, 2);
    assert.match(again.err, /schema\.ts: exists: already exists/);
    assert.equal(readFileSync(schema, 'utf8'), '// mine\n');
    const forced = hvkitIn(dir, 'abi', 'init', 'demo', '--force');
    assert.equal(forced.code, 0, forced.err);
    // The config exists now, so only the schema is written.
    assert.equal(forced.out, 'wrote schemas/demo/schema.ts\n');
    assert.match(readFileSync(schema, 'utf8'), /defineAbi/);
  });

  test('--schemas DIR: every command uses it, and no config is written', () => {
    const dir = newProject('flagged');
    assert.equal(hvkitIn(dir, 'abi', 'init', 'wire', '--schemas', 'abi').code, 0);
    assert.equal(existsSync(join(dir, 'hvkit.abi.json')), false);
    assert.equal(hvkitIn(dir, 'abi', 'list', '--schemas', 'abi').out, 'wire\n');
    assert.equal(hvkitIn(dir, 'abi', 'freeze', 'wire', '--schemas', 'abi').code, 0);
    assert.equal(hvkitIn(dir, 'abi', 'check', '--schemas', 'abi', '--no-compile').code, 0);
    assert.equal(hvkitIn(dir, 'abi', 'gen', 'md', 'wire', '--schemas', 'abi').code, 0);
  });

  test('the ABI-name check holds for any schemas directory: nothing outside it is imported', () => {
    const dir = newProject('hostile');
    const outside = join(base, 'planted');
    mkdirSync(outside, { recursive: true });
    // A planted schema that would leave a mark if it were ever imported.
    const mark = join(base, 'imported-mark');
    writeFileSync(
      join(outside, 'schema.ts'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(mark)}, 'x');\nexport default {};\n`,
    );
    mkdirSync(join(dir, 'abi'));
    symlinkSync(outside, join(dir, 'abi', 'evil'));
    for (const args of [
      ['check', 'evil'],
      ['freeze', 'evil'],
      ['gen', 'c', 'evil'],
      ['init', 'evil'],
      ['check', '../planted'],
      ['freeze', '../planted'],
      ['init', '../planted'],
    ]) {
      const r = hvkitIn(dir, 'abi', ...args, '--schemas', 'abi');
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, /not an ABI name|not inside the schemas directory/);
    }
    assert.equal(existsSync(mark), false, 'the planted schema was never imported');
    assert.deepEqual(readFileSync(join(outside, 'schema.ts'), 'utf8').includes('writeFileSync'), true);
  });

  test('check compiles a C consumer of every revision against the data of every other; --no-compile skips it', (t) => {
    if (!hasCompiler('cc')) return t.skip('cc is not installed');
    const dir = newProject('compiled');
    assert.equal(hvkitIn(dir, 'abi', 'init', 'demo').code, 0);
    assert.equal(hvkitIn(dir, 'abi', 'freeze', 'demo').code, 0);
    const schema = join(dir, 'schemas', 'demo', 'schema.ts');
    const text = readFileSync(schema, 'utf8');
    const appended =
      "reserved('spare', 8, 'Reserved, must be zero.'),\n        int('uptime_ms', 'u64', 'Milliseconds since start.'),";
    writeFileSync(schema, text.replace("reserved('spare', 8, 'Reserved, must be zero.'),", appended));
    assert.equal(hvkitIn(dir, 'abi', 'freeze', 'demo').code, 0);
    const check = hvkitIn(dir, 'abi', 'check');
    assert.equal(check.code, 0, check.err);
    assert.equal(
      check.out,
      'demo: major 1: compatible with revisions 1, 2\n' +
        "demo: C: revisions 1, 2 compile; each consumer reads each producer's data as promised: 4 (consumer, producer) pair(s)\n",
    );
    assert.equal(hvkitIn(dir, 'abi', 'check', '--no-compile').out, 'demo: major 1: compatible with revisions 1, 2\n');
    const noCc = hvkitInEnv(dir, { CC: join(base, 'no-such-cc') }, 'abi', 'check');
    assert.equal(noCc.code, 2);
    assert.match(noCc.err, /^hvkit: no C compiler: .*no-such-cc does not run .*--no-compile/);
  });

  test('a project that has not installed hvkit is told how to make its schema import hvkit/abi', () => {
    for (const type of ['commonjs', 'module']) {
      const dir = join(base, `uninstalled-${type}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
      assert.equal(hvkitIn(dir, 'abi', 'init', 'demo').code, 0);
      const r = hvkitIn(dir, 'abi', 'freeze', 'demo');
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /^hvkit: abi registry demo: schema\.ts: schema-import: .*hvkit.*\(install hvkit in the project: npm install --save-dev hvkit\)\n$/,
      );
    }
  });
});
