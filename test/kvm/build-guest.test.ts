import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildGuest } from '../../src/kvm/build-guest.ts';
import { CAPTURE_GUEST_LOAD } from '../../src/kvm/capture-guest.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'hvkit-guest-cache-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

function toolchainSkipReason(): string | undefined {
  for (const tool of ['cc', 'ld', 'objcopy']) {
    if (spawnSync(tool, ['--version']).error) return `\`${tool}\` is not installed, cannot build guests`;
  }
  return undefined;
}

test('the capture guest builds from source into a flat binary that ends in hlt; jmp hlt', (t) => {
  const why = toolchainSkipReason();
  if (why) return t.skip(why);
  const image = buildGuest('capture', { loadAddress: CAPTURE_GUEST_LOAD, cacheDir });
  assert.equal(image.loadAddress, CAPTURE_GUEST_LOAD);
  assert.ok(image.path.startsWith(cacheDir));
  assert.ok(image.bytes.length > 0 && image.bytes.length < 64);
  // hlt (f4) followed by a short jump back onto it (eb fd): the guest's halt loop.
  assert.deepEqual(Array.from(image.bytes.subarray(-3)), [0xf4, 0xeb, 0xfd]);
});

test('a second build is served from the cache', (t) => {
  const why = toolchainSkipReason();
  if (why) return t.skip(why);
  const first = buildGuest('capture', { loadAddress: CAPTURE_GUEST_LOAD, cacheDir });
  const mtime = statSync(first.path).mtimeMs;
  const second = buildGuest('capture', { loadAddress: CAPTURE_GUEST_LOAD, cacheDir });
  assert.equal(second.path, first.path);
  assert.equal(statSync(second.path).mtimeMs, mtime);
  assert.deepEqual(second.bytes, first.bytes);
  // A different load address is a different recipe, so a different cache entry.
  const moved = buildGuest('capture', { loadAddress: 0x2000, cacheDir });
  assert.notEqual(moved.path, first.path);
});

test('a missing toolchain is reported by name', () => {
  const saved = process.env.PATH;
  const emptyCache = mkdtempSync(join(tmpdir(), 'hvkit-guest-nocc-'));
  try {
    process.env.PATH = join(emptyCache, 'no-such-bin');
    assert.throws(() => buildGuest('capture', { loadAddress: CAPTURE_GUEST_LOAD, cacheDir: emptyCache }), {
      name: 'KvmError',
      message: /needs a C compiler and GNU binutils \(cc, ld, objcopy\); `cc` was not found/,
    });
  } finally {
    process.env.PATH = saved;
    rmSync(emptyCache, { recursive: true, force: true });
  }
});

test('unknown guests and bad names are refused', () => {
  assert.throws(() => buildGuest('no-such-guest', { loadAddress: 0x1000, cacheDir }), {
    name: 'KvmError',
    message: /not found/,
  });
  assert.throws(() => buildGuest('../etc', { loadAddress: 0x1000, cacheDir }), RangeError);
});
