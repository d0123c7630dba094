import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { ClosedError } from '../../src/errors.ts';
import { createSharedRegion, sharedRegionFrom } from '../../src/shm/region.ts';
import { createShmRegion, openShmRegion, shmPath } from '../../src/shm/shm-file.ts';

const name = (tag: string) => `hvkit-test-${process.pid}-${tag}`;

test('SharedArrayBuffer regions: views, drop callbacks, close', () => {
  const r = createSharedRegion(4096);
  assert.equal(r.length, 4096);
  assert.equal(r.words.length, 1024);
  const other = sharedRegionFrom(r.buffer);
  assert.equal(other.writable, false);
  r.words[3] = 42;
  assert.equal(other.words[3], 42);
  let dropped = 0;
  r.onClose(() => dropped++);
  r.close();
  r.close();
  assert.equal(dropped, 1);
  assert.equal(r.closed, true);
  assert.throws(() => r.words, ClosedError);
});

test('/dev/shm regions: exclusive create with mode 0644, read-only open, removed on close', (t) => {
  if (!existsSync('/dev/shm')) {
    t.skip('no /dev/shm on this machine');
    return;
  }
  const n = name('region');
  const owner = createShmRegion(n, 8192);
  try {
    const st = statSync(shmPath(n));
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(st.size, 8192);
    assert.throws(() => createShmRegion(n, 8192), /EEXIST/);
    owner.words[10] = 0xfeed;
    Atomics.store(owner.words, 11, 7);
    const reader = openShmRegion(n);
    assert.equal(reader.writable, false);
    assert.equal(reader.length, 8192);
    assert.equal(reader.words[10], 0xfeed);
    assert.equal(Atomics.load(reader.words, 11), 7);
    owner.words[10] = 1; // the reader sees live memory, not a copy
    assert.equal(reader.words[10], 1);
    reader.close();
    assert.ok(existsSync(shmPath(n)), 'a reader does not remove the file');
  } finally {
    owner.close();
  }
  assert.ok(!existsSync(shmPath(n)), 'the owner removes the file');
  assert.throws(() => openShmRegion(n), /\/dev\/shm\/.*: no such file or directory$/);
  assert.throws(() => shmPath('../etc/passwd'), /invalid shared-memory name/);
  assert.throws(() => createShmRegion(name('zero'), 0), /out of range/);
});
