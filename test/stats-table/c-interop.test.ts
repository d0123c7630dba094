import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateCHeader } from '../../src/abi/gen-c.ts';
import { currentStatsTableAbi, shippedStatsTableAbi } from '../../src/formats/stats-table/abi.ts';
import { EXPECTED_IDENTITY, EXPECTED_NAME, expectedValue } from './fixtures/values.ts';
import { cleanup, runTs, startTs, type TsProcess, uniqueName } from './processes.ts';

const PRODUCER = new URL('./fixtures/producer.ts', import.meta.url);
const CONSUMER = new URL('./fixtures/consumer.ts', import.meta.url);
const SOURCE = new URL('../c/stats_table_reader.c', import.meta.url).pathname;
/** The newest frozen revision: what hvkit's producers write, and what the generated header describes. */
const NEWEST = String(shippedStatsTableAbi().revision);

let dir = '';
let binary = '';
let skip = '';

before(() => {
  if (!existsSync('/dev/shm')) skip = 'no /dev/shm on this machine';
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    skip = 'no system C compiler (cc)';
  }
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'hvkit-stats-c-'));
  mkdirSync(join(dir, 'hvkit'));
  writeFileSync(join(dir, 'hvkit', 'stats-table.h'), generateCHeader(currentStatsTableAbi()));
  binary = join(dir, 'stats_table_reader');
  execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O2', '-I', dir, '-o', binary, SOURCE], {
    stdio: 'pipe',
  });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runC(args: string[]): Record<string, unknown> {
  return JSON.parse(execFileSync(binary, args, { encoding: 'utf8' })) as Record<string, unknown>;
}

interface TsRow {
  block: string;
  group: string;
  counter: string;
  state: string;
  value?: string;
  buckets?: string[];
  slot?: number;
}

interface CIdentity {
  domid: number;
  unique_id: string;
  owner_pid: number;
  name: string;
}

test('C reader (generated header, C11 atomics) agrees with the TS writer and reader of the newest revision on a live region', async (t) => {
  if (skip) {
    t.skip(skip);
    return;
  }
  const name = uniqueName('c-interop');
  let producer: TsProcess | undefined;
  try {
    producer = startTs(PRODUCER, [name, NEWEST, '2', 'equal', '3000', '200']);
    assert.equal((await producer.next()).ready, true);
    // While the writer keeps updating: every C snapshot has equal exits counters, never going back.
    const watch = runC([name, 'watch', '1500']) as Record<string, number>;
    t.diagnostic(
      `C: ${watch.snapshots} snapshots, ${watch.unequal} unequal, ${watch.torn} torn, ${watch.retries} retries`,
    );
    assert.equal(watch.unequal, 0);
    assert.equal(watch.backwards, 0);
    assert.ok(watch.snapshots! > 0);

    const done = await producer.next();
    const final = String(done.final);
    const c = runC([name, 'once']) as {
      identity: CIdentity;
      dom: Record<string, string[]>;
      vcpus: ({ magic_ok: boolean; id: number; ports: [string, string][] } & Record<string, string[]>)[];
    };
    const ts = (await runTs(CONSUMER, [name, NEWEST, 'read'])) as {
      rows: TsRow[];
      violations: unknown[];
      identity: Record<string, string | number>;
    };
    assert.deepEqual(ts.violations, []);
    const tsValue = (block: string, group: string, counter: string) =>
      ts.rows.find((r) => r.block === block && r.group === group && r.counter === counter);

    assert.deepEqual(c.vcpus[0]!.exits, Array(8).fill(final), 'C sees the final exits counters');
    const groups: [string, string, string[]][] = [
      ['dom', 'sched', ['cpu_time_ns', 'steal_time_ns', 'wakeups', 'vcpus_running', 'vcpus_running_peak']],
      ['dom', 'memory', ['pages_present', 'pages_peak', 'page_faults', 'bytes_mapped']],
    ];
    for (let v = 0; v < 2; v++) {
      groups.push([
        `vcpu[${v}]`,
        'exits',
        [
          'exits_total',
          'io_exits',
          'mmio_exits',
          'hlt_exits',
          'irq_window_exits',
          'hypercalls',
          'signal_exits',
          'insn_emulations',
        ],
      ]);
      groups.push([`vcpu[${v}]`, 'halt', ['halt_poll_success', 'halt_poll_attempts', 'halt_wakeups', 'halt_wait_ns']]);
      groups.push([`vcpu[${v}]`, 'io', ['pio_ops', 'mmio_ops', 'pio_bytes', 'mmio_bytes']]);
    }
    let compared = 0;
    for (const [block, group, counters] of groups) {
      const cValues = block === 'dom' ? c.dom[group]! : c.vcpus[Number(block.slice(5, -1))]![group]!;
      counters.forEach((counter, i) => {
        const row = tsValue(block, group, counter)!;
        assert.equal(cValues[i], row.value, `${block}.${group}.${counter}: C vs TS`);
        const want =
          block === 'vcpu[0]' && group === 'exits' ? final : expectedValue(block, group, counter, 0).toString();
        assert.equal(row.value, want, `${block}.${group}.${counter}`);
        compared++;
      });
    }
    const hist = tsValue('vcpu[1]', 'halt', 'halt_wait_hist')!;
    assert.deepEqual(c.vcpus[1]!.halt_wait_hist, hist.buckets);
    assert.equal(compared, 41);

    // The identity words and the name (UTF-8 beyond ASCII, quotes and a backslash), both sides.
    const want: CIdentity = {
      domid: EXPECTED_IDENTITY.domid,
      unique_id: EXPECTED_IDENTITY.uniqueId.toString(),
      owner_pid: EXPECTED_IDENTITY.ownerPid,
      name: EXPECTED_NAME,
    };
    assert.deepEqual(c.identity, want, 'C identity');
    assert.deepEqual(
      {
        domid: ts.identity.domid,
        unique_id: ts.identity.uniqueId,
        owner_pid: ts.identity.ownerPid,
        name: ts.identity.name,
      },
      want,
      'TS identity',
    );
    // The ports group: eight [port, accesses] slots in C, one row per used slot in TS.
    for (let v = 0; v < 2; v++) {
      const block = `vcpu[${v}]`;
      const slots = c.vcpus[v]!.ports;
      assert.equal(slots.length, 8);
      const rows = ts.rows.filter((r) => r.block === block && r.group === 'ports');
      assert.equal(rows.length, 8, `${block}: every slot used`);
      slots.forEach(([port, accesses], i) => {
        assert.equal(port, expectedValue(block, 'ports', `port${i}`, 0).toString(), `${block} slot ${i} port`);
        assert.equal(accesses, expectedValue(block, 'ports', `port${i}_accesses`, 0).toString());
        const row = rows.find((r) => r.slot === i)!;
        assert.equal(row.counter, `port 0x${BigInt(port).toString(16)}`);
        assert.equal(row.value, accesses, `${block} slot ${i}: C vs TS`);
      });
    }
    producer.child.stdin.end();
    assert.equal(await producer.exited, 0);
  } finally {
    cleanup(producer, name);
  }
});

test('the C reader built from the newest header reads an older producer: appended groups are absent', async (t) => {
  if (skip) {
    t.skip(skip);
    return;
  }
  const name = uniqueName('c-old-producer');
  let producer: TsProcess | undefined;
  try {
    producer = startTs(PRODUCER, [name, '1', '1', 'static']);
    assert.equal((await producer.next()).ready, true);
    const c = runC([name, 'once']) as {
      identity: CIdentity;
      dom: Record<string, unknown>;
      vcpus: Record<string, unknown>[];
    };
    assert.equal(c.dom.memory, 'absent');
    assert.equal(c.vcpus[0]!.io, 'absent');
    assert.equal(c.vcpus[0]!.ports, 'absent');
    // A rev-1 producer's header has reserved (zero) bytes where the identity and the name are.
    assert.deepEqual(c.identity, { domid: 0, unique_id: '0', owner_pid: 0, name: '' });
    assert.deepEqual(c.vcpus[0]!.exits, [
      ...[
        'exits_total',
        'io_exits',
        'mmio_exits',
        'hlt_exits',
        'irq_window_exits',
        'hypercalls',
        'signal_exits',
        'insn_emulations',
      ].map((n) => expectedValue('vcpu[0]', 'exits', n, 0).toString()),
    ]);
    producer.child.stdin.end();
    assert.equal(await producer.exited, 0);
  } finally {
    cleanup(producer, name);
  }
});
