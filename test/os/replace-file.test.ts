/**
 * writeFileAtomically: a target that exists and is not a regular file is refused (a device node
 * is never turned into a regular file, a FIFO or symlink never replaced); an existing file is
 * replaced only with `force`; a refused or failed write leaves the path as it was and no
 * temporary file behind; errors name the path given, never the temporary file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { EnvironmentError } from '../../src/errors.ts';
import { OutputRefusedError, writeFileAtomically } from '../../src/os/replace-file.ts';

const root = mkdtempSync(join(tmpdir(), 'hvkit-replace-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};
const bytes = (text: string) => [new TextEncoder().encode(text)];

function refused(path: string, rule: string, force = false) {
  assert.throws(
    () => writeFileAtomically(path, bytes('new'), { force }),
    (e: unknown) => e instanceof OutputRefusedError && e.kind === 'environment' && e.rule === rule && e.path === path,
  );
}

describe('writeFileAtomically', () => {
  it('writes a new file; refuses to replace an existing one unless forced', () => {
    const d = freshDir();
    const path = join(d, 'out');
    assert.equal(writeFileAtomically(path, bytes('first')), 5);
    assert.equal(readFileSync(path, 'utf8'), 'first');
    refused(path, 'exists');
    assert.equal(readFileSync(path, 'utf8'), 'first', 'untouched');
    assert.equal(writeFileAtomically(path, bytes('second'), { force: true }), 6);
    assert.equal(readFileSync(path, 'utf8'), 'second');
    assert.deepEqual(readdirSync(d), ['out'], 'no temporary file left');
  });

  it('refuses a FIFO, a directory and a symlink, even with force, and leaves them as they were', () => {
    const d = freshDir();
    const fifo = join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const sub = join(d, 'sub');
    mkdirSync(sub);
    const target = join(d, 'target');
    writeFileSync(target, 'target');
    const link = join(d, 'link');
    symlinkSync(target, link);
    for (const force of [false, true]) {
      refused(fifo, 'not-regular-file', force);
      refused(sub, 'not-regular-file', force);
      refused(link, 'symlink', force);
    }
    assert.ok(lstatSync(fifo).isFIFO());
    assert.ok(lstatSync(sub).isDirectory());
    assert.equal(readlinkSync(link), target);
    assert.equal(readFileSync(target, 'utf8'), 'target');
    assert.deepEqual(readdirSync(d).sort(), ['fifo', 'link', 'sub', 'target'], 'no temporary file left');
  });

  it('never turns a device node into a regular file (root only: mknod)', (t: TestContext) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to create a device node');
      return;
    }
    const d = freshDir();
    const dev = join(d, 'null');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    refused(dev, 'not-regular-file', true);
    assert.ok(lstatSync(dev).isCharacterDevice(), 'still a character device');
    assert.deepEqual(readdirSync(d), ['null']);
  });

  it('names the path given when its directory is missing, never the temporary file', () => {
    const path = join(root, 'no', 'such', 'dir', 'out');
    assert.throws(
      () => writeFileAtomically(path, bytes('x')),
      (e: unknown) => e instanceof EnvironmentError && e.message === `${path}: no such file or directory`,
    );
  });

  it('removes the temporary file when writing fails, and keeps the old file', () => {
    const d = freshDir();
    const path = join(d, 'out');
    writeFileSync(path, 'old');
    const failing = function* () {
      yield new Uint8Array(10);
      throw new EnvironmentError('the source failed');
    };
    assert.throws(() => writeFileAtomically(path, failing(), { force: true }), /the source failed/);
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(d), ['out']);
  });
});

describe('writeFileAtomically: long names', () => {
  it('writes a target whose name is long but valid (250 bytes): the temporary name is cut, not the write', () => {
    const file = join(root, 'a'.repeat(250));
    assert.equal(writeFileAtomically(file, [Buffer.from('x')]), 1);
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });
});
