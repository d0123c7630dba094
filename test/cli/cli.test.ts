/**
 * The CLI end to end, as a user runs it: real processes, real files, real /dev/shm regions (real
 * KVM in cli.kvm.test.ts). Asserts exit codes (0 ok, 1 check failed, 2 usage/environment) and
 * that errors are one line, never a stack trace.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { StatBase, StatType, StatUnit } from '../../src/formats/kvm-stats/index.ts';
import {
  frozenStatsTableRevisions,
  StatsTableWriter,
  shippedStatsTableAbi,
} from '../../src/formats/stats-table/index.ts';
import { Host } from '../../src/host/host.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { writeKvmStats } from '../support/kvm-stats-writer.ts';
import { hvkit } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'hvkit-cli-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BIG = (1n << 60n) + 7n; // past 2^53: must survive exactly

function kvmFile(): Uint8Array {
  return writeKvmStats('kvm-4242/vcpu-0', [
    { name: 'exits', type: StatType.Cumulative, value: BIG },
    { name: 'halt_wait_ns', type: StatType.Cumulative, unit: StatUnit.Seconds, exponent: -9, value: 1_500_000n },
    { name: 'blocking', type: StatType.Instant, unit: StatUnit.Boolean, value: 1n },
    {
      name: 'halt_wait_hist',
      type: StatType.LogHist,
      unit: StatUnit.Seconds,
      exponent: -9,
      size: 32,
      base: StatBase.Pow10,
      value: Array.from({ length: 32 }, (_, i) => (i === 11 ? 90n : i === 20 ? 10n : 0n)),
    },
  ]);
}

describe('hvkit check / dump on KVM binary stats files', () => {
  const good = join(dir, 'good.kvmstats');
  writeFileSync(good, kvmFile());

  it('accepts a valid file (exit 0) and dumps it with units and percentiles', () => {
    const check = hvkit('check', good);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, /kvm-stats: valid \(0 error\(s\), 0 warning\(s\)\)/);
    const dump = hvkit('dump', good);
    assert.equal(dump.code, 0, dump.err);
    assert.match(dump.out, /halt_wait_ns\s+cumulative\s+seconds\s+1\.5 ms/);
    assert.match(dump.out, /halt_wait_hist\s+log-hist\s+seconds\s+100 samples\s+p50 \[1\.024 µs, 2\.048 µs\)/);
    assert.match(dump.out, /blocking\s+instant\s+boolean\s+true/);
  });

  it('keeps u64 values exact in --json', () => {
    const dump = hvkit('dump', good, '--json');
    assert.equal(dump.code, 0, dump.err);
    const parsed = JSON.parse(dump.out);
    const exits = parsed.stats.rows.find((r: { name: string }) => r.name === 'exits');
    assert.deepEqual(exits.raw, [BIG.toString()]);
  });

  it('rejects a corrupt file with exit 1, naming the field and the rule', () => {
    const bytes = kvmFile();
    new DataView(bytes.buffer).setUint32(16, 20, true); // desc_offset: not a multiple of 8, inside the id block
    const bad = join(dir, 'bad.kvmstats');
    writeFileSync(bad, bytes);
    const check = hvkit('check', bad, '--json');
    assert.equal(check.code, 1);
    const report = JSON.parse(check.out);
    assert.ok(report.violations.some((v: { field: string; rule: string }) => v.field === 'header.desc_offset'));
    const dump = hvkit('dump', bad);
    assert.equal(dump.code, 1);
    assert.match(dump.err, /^hvkit: kvm-stats: header\.desc_offset: /);
  });

  it('answers usage and I/O errors with exit 2 and one line', () => {
    const missing = hvkit('check', join(dir, 'nope'));
    assert.equal(missing.code, 2);
    assert.equal(missing.err, `hvkit: ${join(dir, 'nope')}: no such file or directory\n`);
    assert.equal(hvkit('check').code, 2);
    assert.equal(hvkit('check', good, '--shm', 'x').code, 2);
    assert.equal(hvkit('dump', '--shm', '../etc/passwd').code, 2);
    assert.equal(hvkit('no-such-command').code, 2);
  });
});

describe('hvkit check / dump on a live stats table in /dev/shm', () => {
  it('checks and dumps a region another process writes, and reports corruption', () => {
    const abi = shippedStatsTableAbi();
    const name = `hvkit-cli-test-${process.pid}`;
    const layout = StatsTableWriter.plan(abi, { nrVcpus: 3 });
    const region = createShmRegion(name, layout.regionSize);
    try {
      const writer = StatsTableWriter.create(region, abi, { nrVcpus: 3 });
      writer.update(1, 'exits', (g) => g.set(g.counter('exits_total'), BIG));
      const check = hvkit('check', '--shm', name);
      assert.equal(check.code, 0, check.out + check.err);
      assert.match(check.out, /stats-table: valid/);
      const dump = hvkit('dump', '--shm', name, '--json');
      assert.equal(dump.code, 0, dump.err);
      const row = JSON.parse(dump.out).rows.find(
        (r: { block: string; counter: string }) => r.block === 'vcpu[1]' && r.counter === 'exits_total',
      );
      assert.equal(row.value, BIG.toString());
      const text = hvkit('dump', '--shm', name);
      assert.match(
        text.out,
        new RegExp(`producer revision ${abi.revision} read with revision ${abi.revision}; 3 vCPUs`),
      );

      // A reserved byte of the domain header that is not zero breaks the table's rules.
      const reserved = abi.structs.find((s) => s.name === 'dom')!.fields.find((f) => f.kind === 'reserved')!;
      region.bytes[reserved.offset] = 0xaa;
      const bad = hvkit('check', '--shm', name, '--json');
      assert.equal(bad.code, 1);
      const violations = JSON.parse(bad.out).violations as { rule: string }[];
      assert.ok(
        violations.some((v) => v.rule === 'reserved-nonzero'),
        JSON.stringify(violations),
      );
    } finally {
      region.close();
    }
    assert.equal(existsSync(`/dev/shm/${name}`), false);
  });
});

describe('hvkit check / dump on a live domain directory', () => {
  it('checks and dumps the directory a running host publishes', async () => {
    const host = Host.start({ backend: new SimBackend(), ownsBackend: true });
    try {
      const dom = await host.createDomain({ name: 'cli-dir', vcpus: 1, memoryMiB: 1, workload: 'compute' });
      const check = hvkit('check', '--shm', host.directoryRegion);
      assert.equal(check.code, 0, check.out + check.err);
      assert.match(check.out, /domain-directory: valid/);
      const dump = hvkit('dump', '--shm', host.directoryRegion, '--json');
      assert.equal(dump.code, 0, dump.err);
      const doc = JSON.parse(dump.out);
      assert.equal(doc.owner.pid, process.pid);
      const entry = doc.entries.find((e: { domid: number }) => e.domid === dom.domid);
      assert.equal(entry.state, 'running');
      assert.equal(entry.uniqueId, dom.uniqueId.toString());
      assert.match(
        hvkit('dump', '--shm', host.directoryRegion).out,
        new RegExp(`running\\s+${dom.uniqueId.toString(16).padStart(16, '0')}`),
      );
    } finally {
      await host.stop();
    }
  });
});

describe('hvkit abi', () => {
  it('checks every ABI against its frozen revisions', () => {
    const r = hvkit('abi', 'check');
    assert.equal(r.code, 0, r.out + r.err);
    const revisions = frozenStatsTableRevisions().join(', ');
    assert.match(r.out, new RegExp(`stats-table: major 1: compatible with revisions ${revisions}\\n`));
    assert.equal(hvkit('abi', 'check', 'no-such-abi').code, 2);
  });

  it('generates the C header and the docs, and refuses an unchanged freeze', () => {
    const c = hvkit('abi', 'gen', 'c', 'stats-table');
    assert.equal(c.code, 0);
    assert.match(c.out, /struct hvkit_stats_table_dom \{/);
    const md = hvkit('abi', 'gen', 'md', 'stats-table');
    assert.equal(md.code, 0);
    assert.match(md.out, /^# /m);
    assert.equal(hvkit('abi', 'gen', 'rust', 'stats-table').code, 2);
    const freeze = hvkit('abi', 'freeze', 'stats-table');
    assert.equal(freeze.code, 1);
    assert.match(freeze.err, /nothing new to freeze/);
  });
});

test('usage errors are one line on stderr and exit 2, never the whole help', () => {
  for (const args of [['top', '--bogus'], ['frob'], ['abi', 'gen'], ['ctl', 'create', '--vcpus', '1'], ['check']]) {
    const r = hvkit(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.err.trimEnd().split('\n').length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^hvkit: /);
    assert.doesNotMatch(r.err, /Usage:/);
  }
});
