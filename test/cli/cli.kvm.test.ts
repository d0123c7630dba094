/** The CLI end to end on real KVM: `hvkit kvm capture` and `hvkit tour`. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { skipWithoutKvm } from '../kvm/helpers.ts';
import { hvkit } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-cli-kvm-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('hvkit kvm capture and tour (real KVM)', () => {
  it('captures every stats file of a throwaway VM, each valid', (t) => {
    if (skipWithoutKvm(t)) return;
    const out = join(dir, 'capture');
    const r = hvkit('kvm', 'capture', '--out', out, '--vcpus', '3', '--json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(out).sort(), ['vcpu-0.kvmstats', 'vcpu-1.kvmstats', 'vcpu-2.kvmstats', 'vm.kvmstats']);
    for (const f of readdirSync(out)) assert.equal(hvkit('check', join(out, f)).code, 0, f);
    assert.equal(hvkit('kvm', 'capture', '--out', out, '--vcpus', '0').code, 2);
  });

  it('runs the tour to the end and leaves nothing in /dev/shm', (t) => {
    if (skipWithoutKvm(t)) return;
    const r = hvkit('tour');
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /check --shm hvkit-tour-\d+: valid/);
    assert.equal(readdirSync('/dev/shm').filter((f) => f.startsWith('hvkit-tour-')).length, 0);
  });
});
