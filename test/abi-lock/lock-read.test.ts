/**
 * Lock files are read like every other input: a FIFO or a symlink under a lock's name is refused
 * at once (never blocks, never follows), and a huge file is refused by its size, unread.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readLock } from '../../src/abi/lock-read.ts';
import { FormatError } from '../../src/errors.ts';
import { FileRefusedError } from '../../src/os/open-input.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-lock-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a FIFO under a lock name is refused, not waited on', () => {
  const path = join(dir, 'rev-1.lock.json');
  execFileSync('mkfifo', [path]);
  assert.throws(
    () => readLock(path, 'x/rev-1'),
    (e: unknown) => e instanceof FileRefusedError && e.rule === 'not-regular-file',
  );
});

test('a symlink (here to /dev/zero) is refused, not followed', () => {
  const path = join(dir, 'rev-2.lock.json');
  symlinkSync('/dev/zero', path);
  assert.throws(
    () => readLock(path, 'x/rev-2'),
    (e: unknown) => e instanceof FileRefusedError && e.rule === 'symlink',
  );
});

test('a sparse 1 GiB lock is refused by its size before a byte is read', () => {
  const path = join(dir, 'rev-3.lock.json');
  writeFileSync(path, '{');
  truncateSync(path, 1 << 30);
  assert.throws(
    () => readLock(path, 'x/rev-3'),
    (e: unknown) => e instanceof FormatError && e.rule === 'too-large',
  );
});
