/**
 * openInput: the one way hvkit opens a file it was handed. A FIFO, a device, a directory, a
 * socket or a symlink is refused at once (never blocking in open(2)), naming the path and the
 * rule; a regular file is read through the descriptor that was checked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EnvironmentError } from '../../src/errors.ts';
import { FileRefusedError, openInput, preadFully } from '../../src/os/open-input.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-open-input-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refusedAs(path: string, rule: string, detail: RegExp) {
  assert.throws(
    () => openInput(path),
    (e: unknown) =>
      e instanceof FileRefusedError &&
      e.kind === 'environment' &&
      e.rule === rule &&
      e.path === path &&
      e.message.startsWith(`${path}: ${rule}: `) &&
      detail.test(e.detail),
  );
}

describe('openInput', () => {
  it('opens a regular file and reads it through the checked descriptor', () => {
    const path = join(dir, 'plain');
    writeFileSync(path, 'hello, input');
    const file = openInput(path);
    try {
      assert.equal(file.stat.size, 12);
      const buf = new Uint8Array(32);
      assert.equal(Buffer.from(buf.subarray(0, preadFully(file, buf, 7))).toString(), 'input');
    } finally {
      file.close();
      file.close(); // idempotent
    }
  });

  it('refuses a FIFO at once instead of blocking until a writer comes', () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    refusedAs(path, 'not-regular-file', /^is a FIFO, not a regular file$/);
  });

  it('refuses a directory, a character device and a unix socket', async () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    refusedAs(sub, 'not-regular-file', /directory/);
    refusedAs('/dev/null', 'not-regular-file', /character device/);
    const sock = join(dir, 'sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      refusedAs(sock, 'not-regular-file', /not a regular file/);
    } finally {
      server.close();
    }
  });

  it('does not follow a symlink, even to a regular file', () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'x');
    const link = join(dir, 'link');
    symlinkSync(target, link);
    refusedAs(link, 'symlink', /symbolic link/);
  });

  it('names the path, not Node’s errno text, when the file is missing', () => {
    const path = join(dir, 'missing');
    assert.throws(
      () => openInput(path),
      (e: unknown) => e instanceof EnvironmentError && e.message === `${path}: no such file or directory`,
    );
  });
});
