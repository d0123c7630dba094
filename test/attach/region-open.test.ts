/**
 * openRegionFile, the one way tools open a live region: the format is detected on the descriptor
 * that is then read (a file swapped under the name afterwards is not what gets checked); a region
 * of another user is copied, never mapped; and a region shrunk while a tool reads it is a typed
 * error (exit 2 with a message), never a SIGBUS that kills the reader.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import { openRegionFile } from '../../src/attach/region-open.ts';
import { errorCode } from '../../src/errors.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import { Host } from '../../src/host/host.ts';
import { createShmRegion, shmPath } from '../../src/shm/shm-file.ts';
import { checkTarget } from '../../src/tools/check.ts';
import { dumpTarget } from '../../src/tools/dump.ts';
import { resolveTarget } from '../../src/tools/target.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { hangDeadline } from '../support/slowdown.ts';

const HVKIT = new URL('../../bin/hvkit.mjs', import.meta.url).pathname;
const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;
let next = 0;
const names: string[] = [];
after(() => {
  for (const n of names) if (existsSync(shmPath(n))) unlinkSync(shmPath(n));
});

function table(nrVcpus = 2) {
  const name = `hvkit-region-open-${process.pid}-${next++}`;
  names.push(name);
  const abi = shippedStatsTableAbi();
  const region = createShmRegion(name, StatsTableWriter.plan(abi, { nrVcpus }).regionSize);
  const writer = StatsTableWriter.create(region, abi, { nrVcpus });
  writer.update(1, 'exits', (g) => g.set(g.counter('io_exits'), 42));
  return { name, region, writer };
}

/** Replaces /dev/shm/NAME by a different file: a table magic over bytes no table has. */
function swapUnder(name: string, size: number): void {
  unlinkSync(shmPath(name));
  const junk = new Uint8Array(size).fill(0xff);
  const magic = Number(shippedStatsTableAbi().constants.find((c) => c.name === 'DOM_MAGIC')!.value);
  new DataView(junk.buffer).setUint32(0, magic, true);
  writeFileSync(shmPath(name), junk);
}

describe('one descriptor from detection to reading', () => {
  for (const access of ['map', 'copy'] as const) {
    it(`checks what it detected, not a file swapped in under the name afterwards (${access})`, () => {
      const { name, region } = table();
      try {
        let swapped = false;
        const report = checkTarget(resolveTarget(undefined, name, access), {
          intervalMs: 0,
          afterDetect: (format) => {
            assert.equal(format, 'stats-table');
            swapUnder(name, region.length);
            swapped = true;
          },
        });
        assert.ok(swapped, 'the file was swapped between detection and reading');
        assert.equal(report.format, 'stats-table');
        assert.deepEqual(report.violations, [], 'the checked bytes are the original table');
        // The swapped-in junk is refused when opened afresh: the test's swap did take effect.
        assert.notEqual(checkTarget(resolveTarget(undefined, name, access), { intervalMs: 0 }).errors, 0);
      } finally {
        region.close();
      }
    });
  }

  it('dumps a copied table and a copied domain directory', async () => {
    const { name, region } = table();
    const host = Host.start({ backend: new SimBackend(), ownsBackend: true });
    try {
      const dump = dumpTarget(resolveTarget(undefined, name, 'copy'));
      assert.equal(dump.format, 'stats-table');
      const dom = await host.createDomain({ name: 'copied', vcpus: 1, memoryMiB: 1, workload: 'compute' });
      const dir = dumpTarget(resolveTarget(undefined, host.directoryRegion, 'copy'));
      assert.equal(dir.format, 'domain-directory');
      if (dir.format === 'domain-directory') {
        assert.equal(dir.entries.find((e) => e.domid === dom.domid)?.state, 'running');
      }
      const check = checkTarget(resolveTarget(undefined, host.directoryRegion, 'copy'), { intervalMs: 0 });
      assert.deepEqual(check.violations, []);
    } finally {
      await host.stop();
      region.close();
    }
  });
});

describe('whose region is mapped', () => {
  it('maps a region of this user', () => {
    const { name, region } = table();
    try {
      const opened = openRegionFile(name);
      assert.equal(opened.format === 'stats-table' && opened.copied, false);
      opened.close();
    } finally {
      region.close();
    }
  });

  it('copies a region of another user (root only: chown)', (t: TestContext) => {
    if (!isRoot) {
      t.skip('needs root to give a file to another user');
      return;
    }
    const { name, region } = table();
    try {
      chownSync(shmPath(name), NOBODY, NOBODY);
      const opened = openRegionFile(name);
      assert.equal(opened.format === 'stats-table' && opened.copied, true);
      opened.close();
    } finally {
      region.close();
    }
  });
});

/**
 * Runs `hvkit check --shm NAME` with a long pause between its two looks, shrinks the region as
 * soon as the child holds it open, and returns how the child ended.
 */
async function checkWhileShrinking(name: string, extra: string[]) {
  const child = spawn(
    process.execPath,
    [HVKIT, 'check', '--shm', name, '--interval', String(hangDeadline(5000)), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  child.stdout.resume();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), hangDeadline(60_000));
  try {
    // Shrink once the child has the region open (a mapping closes its descriptor: look at maps too).
    const path = shmPath(name);
    while (child.exitCode === null && !holds(child.pid!, path)) await new Promise((r) => setTimeout(r, 5));
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 64);
    closeSync(fd);
    return { ...(await ended), err };
  } finally {
    clearTimeout(killer);
  }
}

/** Whether process `pid` has `path` open or mapped (false once it is gone). */
function holds(pid: number, path: string): boolean {
  try {
    if (readFileSync(`/proc/${pid}/maps`, 'utf8').includes(path)) return true;
    return readdirSync(`/proc/${pid}/fd`).some((fd) => linkOf(`/proc/${pid}/fd/${fd}`) === path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ESRCH') return false; // it exited
    throw err;
  }
}

function linkOf(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined; // closed meanwhile
    throw err;
  }
}

describe('a region shrunk while a tool reads it', () => {
  // Eight vCPUs: a table of several pages, so a mapping would fault past the new end (SIGBUS).
  it('is a typed error on the copy path (--copy): exit 2 with a message, not SIGBUS', async () => {
    const { name, region } = table(8);
    try {
      const r = await checkWhileShrinking(name, ['--copy']);
      assert.equal(r.signal, null, `the reader was killed by ${r.signal}`);
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.err,
        new RegExp(
          `^hvkit: ${shmPath(name)}: truncated: ends before byte \\d+, at byte \\d+: it was shrunk while being read\\n$`,
        ),
      );
    } finally {
      region.close();
    }
  });

  it('is copied, never mapped, when another user owns it: exit 2, not SIGBUS (root only: chown)', async (t: TestContext) => {
    if (!isRoot) {
      t.skip('needs root to give a file to another user');
      return;
    }
    const { name, region } = table(8);
    try {
      chownSync(shmPath(name), NOBODY, NOBODY);
      const r = await checkWhileShrinking(name, []);
      assert.equal(r.signal, null, `the reader was killed by ${r.signal}`);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /truncated/);
    } finally {
      region.close();
    }
  });
});
