/** `captureKvmStats` argument checks, which refuse before touching /dev/kvm or the disk (no KVM needed). */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { captureKvmStats } from '../../src/kvm/capture.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hvkit-capture-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('capture refuses bad vCPU and write counts before touching anything', () => {
  const outDir = join(scratch, 'refused');
  assert.throws(() => captureKvmStats({ outDir, vcpus: 0 }), {
    name: 'UsageError',
    message: /vcpus must be an integer from 1 to 64/,
  });
  assert.throws(() => captureKvmStats({ outDir, vcpus: 1.5 }), { name: 'UsageError' });
  assert.throws(() => captureKvmStats({ outDir, writes: 256 }), { name: 'UsageError', message: /writes/ });
  assert.deepEqual(readdirSync(scratch).includes('refused'), false);
});
