/**
 * hvkit's OTLP resource mapping: which labels become resource attributes, and the process
 * attributes read from a /proc laid out in a temporary directory (real files and links).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hvkitResourceMapping } from '../../src/tools/export/otlp-resource.ts';

function fakeProc(pid: number, files: { stat?: string; cmdline?: string; exe?: string }): string {
  const proc = mkdtempSync(join(tmpdir(), 'hvkit-otlp-proc-'));
  const dir = join(proc, String(pid));
  mkdirSync(dir);
  if (files.stat !== undefined) writeFileSync(join(dir, 'stat'), files.stat);
  if (files.cmdline !== undefined) writeFileSync(join(dir, 'cmdline'), files.cmdline);
  if (files.exe !== undefined) symlinkSync(files.exe, join(dir, 'exe'));
  return proc;
}

const STAT = (comm: string) => `42 (${comm}) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0`;

test('VM identity labels become resource attributes; vcpu and others stay on the point', () => {
  const m = hvkitResourceMapping({ hostName: 'h' });
  assert.deepEqual(m.resourceAttribute(['vm', 'web']), ['hvkit.vm.name', 'web']);
  assert.deepEqual(m.resourceAttribute(['pid', '42']), ['process.pid', 42n]);
  assert.deepEqual(m.resourceAttribute(['domid', '7']), ['hvkit.domid', 7n]);
  assert.deepEqual(m.resourceAttribute(['vm_key', 'hvkit:ab']), ['hvkit.vm.key', 'hvkit:ab']);
  assert.deepEqual(m.resourceAttribute(['unique_id', 'ab']), ['hvkit.unique_id', 'ab']);
  assert.deepEqual(m.resourceAttribute(['owner', 'other']), ['hvkit.vm.owner', 'other']);
  assert.equal(m.resourceAttribute(['vcpu', '0']), undefined);
  assert.equal(m.resourceAttribute(['exit_reason', 'hlt']), undefined);
  assert.deepEqual(m.common, [['host.name', 'h']]);
});

test('process attributes: exe base name (a replaced binary too), the command, never the arguments', () => {
  const proc = fakeProc(42, {
    stat: STAT('qemu-kvm'),
    cmdline: '/usr/libexec/qemu-kvm\0-object\0secret,id=s,data=hunter2\0',
    exe: '/usr/libexec/qemu-system-x86_64 (deleted)',
  });
  try {
    const m = hvkitResourceMapping({ hostName: 'h', proc });
    assert.deepEqual(m.extra?.([['process.pid', 42n]]), [
      ['process.executable.name', 'qemu-system-x86_64'],
      ['process.command', '/usr/libexec/qemu-kvm'],
    ]);
  } finally {
    rmSync(proc, { recursive: true });
  }
});

test('process attributes: the kernel name when exe is not readable; nothing for a vanished process', () => {
  const proc = fakeProc(42, { stat: STAT('qemu (x) y'), cmdline: '' });
  try {
    const m = hvkitResourceMapping({ hostName: 'h', proc });
    assert.deepEqual(m.extra?.([['process.pid', 42n]]), [['process.executable.name', 'qemu (x) y']]);
    assert.deepEqual(m.extra?.([['process.pid', 43n]]), []);
    assert.deepEqual(m.extra?.([['hvkit.vm.name', 'no pid']]), []);
  } finally {
    rmSync(proc, { recursive: true });
  }
});
