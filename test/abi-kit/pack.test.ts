/**
 * hvkit as another project installs it: `npm pack` this checkout, `npm install` the tarball in a
 * fresh project directory, then `npx hvkit abi init|freeze|check` there. The project has no tsx
 * and no TypeScript of its own: the installed bin must run, and the project's schema must reach
 * the schema language as 'hvkit/abi'.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hasCompiler } from '../abi-gen/cprobe.ts';
import { REPO_ROOT } from './run-in.ts';

const base = mkdtempSync(join(tmpdir(), 'hvkit-abi-pack-'));
after(() => rmSync(base, { recursive: true, force: true }));

function run(cwd: string, cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function npxHvkit(cwd: string, ...args: string[]) {
  const r = run(cwd, 'npx', ['--no-install', 'hvkit', ...args]);
  assert.doesNotMatch(r.err, /\n\s+at /, `no stack trace on stderr: ${r.err}`);
  return r;
}

test('npm pack, npm install in a fresh project, then npx hvkit abi init, freeze and check', () => {
  const packed = run(REPO_ROOT, 'npm', ['pack', '--silent', '--pack-destination', base]);
  assert.equal(packed.code, 0, packed.err);
  const tarball = readdirSync(base).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote a tarball: ${packed.out}`);

  const project = join(base, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{ "name": "my-hypervisor", "version": "1.0.0", "private": true }\n');
  // The npm cache first; the registry only for what the cache lacks.
  const install = run(project, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(base, tarball)]);
  assert.equal(install.code, 0, install.err);

  const compile = hasCompiler('cc') ? [] : ['--no-compile'];
  const init = npxHvkit(project, 'abi', 'init', 'demo');
  assert.equal(init.code, 0, init.err);
  assert.equal(init.out, 'wrote abi/demo/schema.ts\nwrote hvkit.abi.json\n');
  const freeze = npxHvkit(project, 'abi', 'freeze', 'demo');
  assert.equal(freeze.code, 0, freeze.err);
  assert.equal(freeze.out, 'demo: froze revision 1 into abi/demo/revisions/rev-1.lock.json\n');
  const check = npxHvkit(project, 'abi', 'check', ...compile);
  assert.equal(check.code, 0, check.err);
  assert.match(check.out, /^demo: major 1: compatible with revisions 1$/m);

  // An incompatible change: a field narrowed in place.
  const schema = join(project, 'abi', 'demo', 'schema.ts');
  const text = readFileSync(schema, 'utf8');
  assert.ok(text.includes("int('flags', 'u32'"));
  writeFileSync(schema, text.replace("int('flags', 'u32'", "int('flags', 'u16'"));
  const broken = npxHvkit(project, 'abi', 'check', ...compile);
  assert.equal(broken.code, 1, broken.err);
  assert.match(broken.out, /^demo rev 1: header\.flags: type-changed: was int u32, now int u16$/m);
  const refused = npxHvkit(project, 'abi', 'freeze', 'demo');
  assert.equal(refused.code, 1);
  // Each violation once, then one summary line.
  assert.equal(
    refused.err,
    'demo rev 1: header.flags: type-changed: was int u32, now int u16\n' +
      'hvkit: demo: freeze refused (incompatible): 1 incompatible change(s)\n',
  );
});
