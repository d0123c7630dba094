/**
 * KvmStatsSubject sample after sample, over a real file rewritten between samples (a stats fd is
 * read the same way, with pread): metadata rules at the first sample, counters that go down
 * (reset), and metadata that changes when read again.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { packFlags, StatBase, StatType, StatUnit } from '../../src/formats/kvm-stats/index.ts';
import { KvmStatsSubject } from '../../src/tools/live-check/subjects.ts';
import { craft, type RawFile } from '../kvm-stats/fixtures.ts';

const cumulative = packFlags(StatType.Cumulative, StatUnit.None, StatBase.Pow10);
const peak = packFlags(StatType.Peak, StatUnit.None, StatBase.Pow10);
const instant = packFlags(StatType.Instant, StatUnit.None, StatBase.Pow10);

function withFile(first: RawFile, run: (subject: KvmStatsSubject, rewrite: (f: RawFile) => void) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-live-'));
  const path = join(dir, 'stats');
  writeFileSync(path, craft(first));
  const subject = new KvmStatsSubject('vcpu-stats', 'vcpu 0 stats fd 9', openSync(path, 'r'));
  try {
    // Rewritten in place (same inode), as a live fd would show new values.
    run(subject, (f) => {
      const fd = openSync(path, 'r+');
      writeFileSync(fd, craft(f));
      closeSync(fd);
    });
  } finally {
    subject.close();
    rmSync(dir, { recursive: true });
  }
}

const descs = [
  { name: 'exits', flags: cumulative },
  { name: 'max_mmu_page_hash_collisions', flags: peak },
  { name: 'blocking', flags: instant },
];

test('a valid stats file: no violation at any sample, the id is known', () => {
  withFile({ id: 'kvm-1/vcpu-0', descs, data: [5n, 2n, 1n] }, (subject, rewrite) => {
    assert.deepEqual(subject.sample(), []);
    rewrite({ id: 'kvm-1/vcpu-0', descs, data: [9n, 2n, 0n] });
    assert.deepEqual(subject.sample(), []);
    assert.equal(subject.id, 'kvm-1/vcpu-0');
  });
});

test('a cumulative or peak stat that goes down between samples is a reset warning; an instant one is not', () => {
  withFile({ id: 'kvm-1/vcpu-0', descs, data: [5n, 7n, 9n] }, (subject, rewrite) => {
    subject.sample();
    rewrite({ id: 'kvm-1/vcpu-0', descs, data: [4n, 6n, 1n] });
    const v = subject.sample();
    assert.deepEqual(
      v.map((x) => [x.field, x.rule, x.severity]),
      [
        ['desc[0].value', 'reset', 'warning'],
        ['desc[1].value', 'reset', 'warning'],
      ],
    );
  });
});

test('metadata that changes between samples is an error naming the field', () => {
  withFile({ id: 'kvm-1/vcpu-0', descs, data: [1n, 1n, 0n] }, (subject, rewrite) => {
    subject.sample();
    rewrite({
      id: 'kvm-1/vcpu-0',
      descs: [descs[0]!, { ...descs[1]!, name: 'renamed' }, descs[2]!],
      data: [1n, 1n, 0n],
    });
    const v = subject.sample();
    assert.deepEqual(
      v.map((x) => [x.field, x.rule]),
      [['desc[1].name', 'changed']],
    );
  });
});

test('metadata violations come with the first sample only', () => {
  withFile(
    {
      id: 'kvm-1/vcpu-0',
      descs: [
        { name: 'exits', flags: cumulative },
        { name: 'exits', flags: cumulative },
      ],
    },
    (subject) => {
      const first = subject.sample().map((v) => v.rule);
      assert.ok(first.includes('duplicate'), first.join(','));
      assert.deepEqual(subject.sample(), []);
    },
  );
});

test('hostile bytes, rewritten between samples: every sample returns violations, never throws', () => {
  const bytes = fc.uint8Array({ minLength: 0, maxLength: 600 });
  fc.assert(
    fc.property(bytes, bytes, (first, second) => {
      const dir = mkdtempSync(join(tmpdir(), 'hvkit-live-'));
      const path = join(dir, 'stats');
      writeFileSync(path, first);
      const subject = new KvmStatsSubject('vm-stats', 'vm stats fd 9', openSync(path, 'r'));
      try {
        assert.ok(Array.isArray(subject.sample()));
        writeFileSync(path, second);
        const later = subject.sample();
        for (const v of later) assert.ok(v.severity === 'error' || v.severity === 'warning');
      } finally {
        subject.close();
        rmSync(dir, { recursive: true });
      }
    }),
    { numRuns: 200 },
  );
});

test('a file truncated under the subject between samples: reported as violations, not thrown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-live-'));
  const path = join(dir, 'stats');
  writeFileSync(path, craft({ id: 'kvm-1', descs, data: [1n, 1n, 0n] }));
  const subject = new KvmStatsSubject('vm-stats', 'vm stats fd 9', openSync(path, 'r'));
  try {
    assert.deepEqual(subject.sample(), []);
    writeFileSync(path, new Uint8Array(8));
    const later = subject.sample();
    assert.ok(later.length > 0);
    assert.ok(
      later.every((v) => v.severity === 'error'),
      JSON.stringify(later),
    );
  } finally {
    subject.close();
    rmSync(dir, { recursive: true });
  }
});
