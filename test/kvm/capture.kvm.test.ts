import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkKvmStats, fdSource, KvmStatsReader, readLayout } from '../../src/formats/kvm-stats/index.ts';
import { captureKvmStats, formatCaptureResult, writeStatsFiles } from '../../src/kvm/capture.ts';
import { loadCaptureGuest, runCaptureGuest } from '../../src/kvm/capture-guest.ts';
import { readStatsFile } from '../../src/kvm/stats-file.ts';
import { KvmSystem } from '../../src/kvm/system.ts';
import { OutputRefusedError } from '../../src/os/replace-file.ts';
import { compileCReader, kvmFds, runCReader, skipWithoutKvm } from './helpers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hvkit-capture-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function withFile<T>(path: string, fn: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

test('capture writes vm.kvmstats and one file per vCPU, and only those, into a new directory', (t) => {
  if (skipWithoutKvm(t)) return;
  const fdsBefore = kvmFds();
  const outDir = join(scratch, 'three', 'nested');
  const result = captureKvmStats({ outDir, vcpus: 3, writes: 4 });
  assert.deepEqual(kvmFds(), fdsBefore, 'capture closes everything it opened');
  assert.equal(result.outDir, outDir);
  assert.deepEqual(readdirSync(outDir).sort(), [
    'vcpu-0.kvmstats',
    'vcpu-1.kvmstats',
    'vcpu-2.kvmstats',
    'vm.kvmstats',
  ]);
  assert.deepEqual(readdirSync(join(scratch, 'three')), ['nested']);
  assert.deepEqual(
    result.files.map((f) => [f.kind, f.vcpu, f.path]),
    [
      ['vm', undefined, join(outDir, 'vm.kvmstats')],
      ['vcpu', 0, join(outDir, 'vcpu-0.kvmstats')],
      ['vcpu', 1, join(outDir, 'vcpu-1.kvmstats')],
      ['vcpu', 2, join(outDir, 'vcpu-2.kvmstats')],
    ],
  );
  assert.deepEqual(
    result.runs.map((r) => [r.vcpu, r.writes, r.exits, r.ioExits, r.haltExits]),
    [0, 1, 2].map((i) => [i, 4, 5, 4, 1]),
  );
  const summary = formatCaptureResult(result);
  assert.match(summary, /captured 4 KVM stats files/);
  for (const f of result.files) assert.ok(summary.includes(f.path));

  for (const f of result.files) {
    assert.equal(readFileSync(f.path).length, f.bytes);
    withFile(f.path, (fd) => {
      const reader = KvmStatsReader.open(fdSource(fd), { strict: true });
      const { layout } = reader;
      assert.equal(layout.id, f.id);
      assert.equal(layout.descriptors.length, f.stats);
      assert.match(layout.id, f.kind === 'vm' ? /^kvm-\d+$/ : new RegExp(`^kvm-\\d+/vcpu-${f.vcpu}$`));
      // The file is exactly header .. end of data block.
      assert.equal(layout.header.dataOffset + layout.dataSize, f.bytes);
      if (f.kind === 'vcpu') {
        const values = reader.readData();
        assert.ok(reader.value(values, 'exits') >= 5n);
        assert.ok(reader.value(values, 'halt_exits') >= 1n);
      }
      const check = checkKvmStats(fdSource(fd));
      assert.equal(check.errors, 0, JSON.stringify(check.violations));
    });
  }
});

test('captured files are byte-equal to a fresh pread of the same live fds', (t) => {
  if (skipWithoutKvm(t)) return;
  const kvm = KvmSystem.open();
  const vm = kvm.createVm();
  try {
    loadCaptureGuest(vm);
    runCaptureGuest(vm.createVcpu(), 3);
    runCaptureGuest(vm.createVcpu(), 6);
    const outDir = join(scratch, 'fresh');
    const files = writeStatsFiles(vm, outDir);
    const fds = [vm.statsFd, ...vm.vcpus.map((v) => v.statsFd)];
    assert.equal(files.length, fds.length);
    files.forEach((f, i) => {
      const fresh = readStatsFile(fds[i]!);
      assert.ok(readFileSync(f.path).equals(fresh), f.path);
      // and equal to reading header-to-end-of-data with the format's own layout
      const layout = readLayout(fdSource(fds[i]!));
      assert.equal(fresh.length, layout.header.dataOffset + layout.dataSize);
    });
  } finally {
    vm.close();
    kvm.close();
  }
});

test('the C reader reads a captured file exactly like the TS reader', (t) => {
  if (skipWithoutKvm(t)) return;
  const outDir = join(scratch, 'c-reader');
  const result = captureKvmStats({ outDir, vcpus: 1 });
  const c = compileCReader();
  try {
    for (const f of result.files) {
      const out = runCReader(c, { path: f.path });
      withFile(f.path, (fd) => {
        const reader = KvmStatsReader.open(fdSource(fd));
        const values = reader.readData();
        assert.equal(out.id, reader.layout.id);
        assert.equal(out.descriptors.length, reader.layout.descriptors.length);
        for (const d of reader.layout.descriptors) {
          if (d.size === 1) assert.equal(out.values.get(d.name), reader.value(values, d), d.name);
        }
      });
    }
  } finally {
    c.cleanup();
  }
});

test('capture does not follow a symlink planted in the output directory', (t) => {
  if (skipWithoutKvm(t)) return;
  const outDir = join(scratch, 'planted');
  const victim = join(scratch, 'victim.txt');
  writeFileSync(victim, 'keep me');
  mkdirSync(outDir);
  symlinkSync(victim, join(outDir, 'vm.kvmstats'));
  assert.throws(
    () => captureKvmStats({ outDir, vcpus: 1 }),
    (e: unknown) => e instanceof OutputRefusedError && e.rule === 'symlink',
  );
  assert.equal(readFileSync(victim, 'utf8'), 'keep me');
});

test('capture refuses a FIFO planted in the output directory at once (no blocking open)', (t) => {
  if (skipWithoutKvm(t)) return;
  const outDir = join(scratch, 'fifo');
  mkdirSync(outDir);
  execFileSync('mkfifo', [join(outDir, 'vcpu-0.kvmstats')]);
  assert.throws(
    () => captureKvmStats({ outDir, vcpus: 1 }),
    (e: unknown) => e instanceof OutputRefusedError && e.rule === 'not-regular-file',
  );
});
