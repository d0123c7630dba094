/**
 * Opening hvkit stats tables from /dev/shm, where anyone may create files: a FIFO or symlink
 * under a table's name is refused without blocking, a table not owned by the user of the process
 * it names is refused as forged, and tables of other users are read through verified pread copies
 * (never mapped: their owner could truncate them and kill the reader with SIGBUS).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, ftruncateSync, openSync, symlinkSync, unlinkSync } from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import { CopiedTable, type PreadFn } from '../../src/attach/table-copy.ts';
import { HvkitTable, parseTableName, tableName } from '../../src/attach/tables.ts';
import { shippedStatsTableAbi } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import { StatsTableWriter } from '../../src/formats/stats-table/writer.ts';
import { processStartTime } from '../../src/os/procfs.ts';
import { bytesRegion } from '../../src/shm/region.ts';
import { createShmRegion, openShmFile, openShmRegion, ShmFileError, shmPath } from '../../src/shm/shm-file.ts';
import { startTs, type TsProcess } from '../stats-table/processes.ts';

const FIXTURE = new URL('./fixtures/open-table.ts', import.meta.url).pathname;
const PRODUCER = new URL('../stats-table/fixtures/producer.ts', import.meta.url);
const ownStart = processStartTime(process.pid)!;
const isRoot = process.geteuid?.() === 0;
const NOBODY = 65534;
let nextUid = 0x7e57_0000n;
const names: string[] = [];
const children: ChildProcess[] = [];

function ownTableName(pid = process.pid, start = ownStart): string {
  const name = tableName(pid, start, 1, nextUid++);
  names.push(name);
  return name;
}

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const n of names) if (existsSync(shmPath(n))) unlinkSync(shmPath(n));
});

/** Runs the fixture with a timeout: a blocking open fails the test instead of hanging it. */
function inChild(mode: 'open' | 'source', name: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, mode, name], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.error, undefined, `the child did not finish (blocked in open?): ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** A live table written by this process, named after `pid`. */
function writeTable(name: string, nrVcpus = 2) {
  const abi = shippedStatsTableAbi();
  const region = createShmRegion(name, StatsTableWriter.plan(abi, { nrVcpus }).regionSize);
  const writer = StatsTableWriter.create(region, abi, { nrVcpus });
  writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 42));
  return { region, writer };
}

/** A process running as `uid` (root only). */
function spawnAs(uid: number): ChildProcess {
  const c = spawn('sleep', ['600'], { uid, gid: uid, stdio: 'ignore' });
  children.push(c);
  return c;
}

function skipUnlessRoot(t: TestContext): boolean {
  if (isRoot) return false;
  t.skip('needs root: the test makes files and processes of another user');
  return true;
}

describe('refused before mapping', () => {
  it('a FIFO named like a table is refused at once, and `top` carries on', () => {
    const name = ownTableName();
    execFileSync('mkfifo', [shmPath(name)]);
    assert.throws(
      () => openShmRegion(name),
      (e: unknown) => e instanceof ShmFileError && e.rule === 'not-regular-file',
    );
    assert.deepEqual(inChild('open', name).rule, 'not-regular-file');
    const status = inChild('source', name) as { badTables: { name: string; reason: string }[] };
    assert.equal(status.badTables.length, 1);
    assert.equal(status.badTables[0]!.name, name);
    assert.match(status.badTables[0]!.reason, /not-regular-file: is a FIFO/);
  });

  it('a symlink named like a table is not followed', () => {
    const target = ownTableName();
    const { region } = writeTable(target);
    try {
      const name = ownTableName();
      symlinkSync(shmPath(target), shmPath(name));
      assert.throws(
        () => openShmRegion(name),
        (e: unknown) => e instanceof ShmFileError && e.rule === 'symlink',
      );
      assert.equal(inChild('open', name).rule, 'symlink');
    } finally {
      region.close();
    }
  });

  it('an empty file is refused, not mapped', () => {
    const name = ownTableName();
    closeSync(openSync(shmPath(name), 'w'));
    assert.throws(
      () => openShmRegion(name),
      (e: unknown) => e instanceof ShmFileError && e.rule === 'empty',
    );
  });
});

describe('table ownership', () => {
  it('opens a table owned by the user of the process it names (mapped when that is us)', () => {
    const name = ownTableName();
    const { region } = writeTable(name);
    try {
      const t = HvkitTable.open(parseTableName(name)!);
      assert.equal(t.copied, false);
      assert.equal(t.read().vcpus[1]!.groups.find((g) => g.name === 'exits')!.state, 'ok');
      t.close();
    } finally {
      region.close();
    }
  });

  it('refuses a forged table: its owner is not the user of the process its name names', (t) => {
    if (skipUnlessRoot(t)) return;
    const victim = spawnAs(NOBODY);
    const name = ownTableName(victim.pid!, processStartTime(victim.pid!)!);
    const { region } = writeTable(name); // owned by root, names a process of nobody
    try {
      const r = inChild('open', name);
      assert.equal(r.rule, 'owner-mismatch');
      assert.match(String(r.error), new RegExp(`owned by uid 0, but process ${victim.pid} runs as uid ${NOBODY}`));
      const status = inChild('source', name) as { badTables: { name: string; reason: string }[] };
      assert.deepEqual(
        status.badTables.map((b) => b.name),
        [name],
      );
      assert.match(status.badTables[0]!.reason, /owner-mismatch/);
    } finally {
      region.close();
    }
  });

  it('refuses a table whose named process is gone or was replaced', () => {
    const name = ownTableName(process.pid, ownStart + 1n);
    const { region } = writeTable(name);
    try {
      assert.throws(
        () => HvkitTable.open(parseTableName(name)!),
        (e: unknown) => e instanceof ShmFileError && e.rule === 'owner-mismatch',
      );
    } finally {
      region.close();
    }
  });

  it('copies (never maps) a table owned by another user, and survives its truncation', (t) => {
    if (skipUnlessRoot(t)) return;
    const owner = spawnAs(NOBODY);
    const name = ownTableName(owner.pid!, processStartTime(owner.pid!)!);
    const { region, writer } = writeTable(name);
    try {
      chownSync(shmPath(name), NOBODY, NOBODY);
      const table = HvkitTable.open(parseTableName(name)!);
      assert.equal(table.copied, true);
      const exits = () => table.read().vcpus[1]!.groups.find((g) => g.name === 'exits')!;
      assert.equal(exits().state, 'ok');
      assert.equal(exits().counters.find((c) => c.name === 'io_exits')!.value, 42n);
      writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 43));
      assert.equal(exits().counters.find((c) => c.name === 'io_exits')!.value, 43n);
      // A writer stuck mid-update: the copy marks the group torn instead of trusting it.
      const g = writer.vcpu(1, 'exits');
      g.begin();
      assert.equal(exits().state, 'torn');
      g.end();
      assert.equal(exits().state, 'ok');
      // The owner shrinks the file: a mapping would raise SIGBUS here; the copy reports it.
      const fd = openSync(shmPath(name), 'r+');
      ftruncateSync(fd, 64);
      closeSync(fd);
      assert.throws(
        () => table.read(),
        (e: unknown) => e instanceof ShmFileError && e.rule === 'truncated',
      );
      table.close();
    } finally {
      region.close();
    }
  });
});

describe('copied reads under a busy producer', () => {
  let producer: TsProcess | undefined;
  after(() => {
    if (producer && producer.child.exitCode === null) producer.child.kill('SIGKILL');
  });

  it('never returns a torn group as ok: every counter of the hammered group stays equal', async () => {
    const name = ownTableName();
    const rev = String(shippedStatsTableAbi().revision);
    producer = startTs(PRODUCER, [name, rev, '1', 'equal', '1500', '200']);
    await producer.next(); // ready
    const table = HvkitTable.open(parseTableName(name)!, shippedStatsTableAbi(), { access: 'copy' });
    let ok = 0;
    let torn = 0;
    for (let i = 0; i < 3000; i++) {
      const g = table.read().vcpus[0]!.groups.find((x) => x.name === 'exits')!;
      if (g.state === 'torn') {
        torn++;
        continue;
      }
      assert.equal(g.state, 'ok');
      const values = new Set(g.counters.filter((c) => c.state === 'value').map((c) => c.value));
      assert.equal(values.size, 1, `torn copy returned as ok: ${[...values].join(',')}`);
      ok++;
    }
    table.close();
    assert.ok(ok > 0, `no settled copy in 3000 reads (${torn} torn)`);
    console.log(`# copied reads under load: ${ok} ok, ${torn} torn`);
    producer.child.stdin.end();
    await producer.exited;
  });
});

describe('copy verification (scripted preads)', () => {
  /** File states S_A (counters 10), S_T (S_A's seq word, one counter already 20), S_B (all 20). */
  function states() {
    const name = ownTableName();
    const { region, writer } = writeTable(name);
    const g = writer.vcpu(0, 'exits');
    const ids = g.model.counters.map((c) => g.counter(c.name));
    g.update((w) => {
      for (const id of ids) w.set(id, 10);
    });
    const a = region.bytes.slice();
    g.update((w) => {
      for (const id of ids) w.set(id, 20);
    });
    const b = region.bytes.slice();
    const reader = StatsTableReader.open(bytesRegion(a), shippedStatsTableAbi());
    const slot = reader.slots.find((s) => s.scope === 'vcpu' && s.index === 0 && s.group.name === 'exits')!;
    const seq = slot.blockStart + slot.group.seqOffset;
    const changed = [...b.keys()].filter((i) => a[i] !== b[i] && (i < seq || i >= seq + 4));
    const torn = a.slice();
    torn[changed[0]!] = b[changed[0]!]!; // one byte of one counter: a copy caught mid-update
    return { name, region, writer, a, b, torn };
  }

  function scripted(name: string, script: Uint8Array[]) {
    let call = 0;
    const readAt: PreadFn = (_fd, dst, off, len, pos) => {
      const src = script[Math.min(call++, script.length - 1)]!;
      dst.set(src.subarray(pos, pos + len), off);
      return len;
    };
    const file = openShmFile(name);
    const copy = CopiedTable.open(file, readAt);
    const reader = StatsTableReader.open(copy.region, shippedStatsTableAbi());
    copy.bind(reader);
    return { copy, reader, rewind: () => (call = 0) };
  }

  const exitsOf = (reader: StatsTableReader) => reader.read().vcpus[0]!.groups.find((x) => x.name === 'exits')!;

  it('takes a group only from a copy bracketed by two equal even sequence words', () => {
    const { name, region, a, b, torn } = states();
    try {
      // prime (2 reads), then refresh: c0=A, c1=torn (old seq, mixed data), c2=B, c3=B, c4=B.
      const { copy, reader } = scripted(name, [a, a, a, torn, b, b, b]);
      copy.refresh();
      const g = exitsOf(reader);
      assert.equal(g.state, 'ok');
      assert.deepEqual(new Set(g.counters.filter((c) => c.state === 'value').map((c) => c.value)), new Set([20n]));
      copy.region.close();
    } finally {
      region.close();
    }
  });

  it('reports a group torn when no copy settles it within the bound', () => {
    const { name, region, writer, a } = states();
    try {
      // The producer updates the group between every two copies: no two sequence words agree.
      const g = writer.vcpu(0, 'exits');
      const flip = Array.from({ length: 20 }, (_, i) => {
        g.update((w) => w.set(w.counter('io_exits'), 100 + i));
        return region.bytes.slice();
      });
      const { copy, reader } = scripted(name, [a, a, ...flip]);
      copy.refresh();
      assert.equal(exitsOf(reader).state, 'torn');
      copy.region.close();
    } finally {
      region.close();
    }
  });
});
