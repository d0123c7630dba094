/**
 * The files `hvkit ctl save | restore` hand to a host (a child `hvkit host` on the sim backend):
 * a FIFO given to restore is refused at once and the host keeps answering; save never replaces
 * anything but a regular file, and that only with --force, leaving no temporary file; a missing
 * path exits 2 with one line naming the path as typed (no errno text, no temporary name); a bad
 * stream still exits 1.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';

const HVKIT = new URL('../../bin/hvkit.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'hvkit-ctl-files-'));
let host: Started;

before(async () => {
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '1', '--workload', 'compute']);
});
after(async () => {
  // A host stuck in open(2) never handles SIGTERM: kill it so it does not outlive the test.
  const killer = setTimeout(() => host.child.kill('SIGKILL'), hangDeadline(30_000));
  try {
    await stopHost(host);
  } finally {
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `hvkit ctl --host PID ARGS…` run in `cwd`, bounded: a host stuck in open(2) fails the test. */
function ctl(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [HVKIT, 'ctl', '--host', String(host.pid), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: hangDeadline(60_000),
  });
  assert.equal(r.error, undefined, `ctl did not finish (a blocked host?): ${r.error?.message}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** One line on stderr, exit 2, naming `typed`, without errno codes or temporary names. */
function environmentFailure(r: { code: number | null; err: string }, typed: string, rest: RegExp) {
  assert.equal(r.code, 2, r.err);
  const lines = r.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.err);
  assert.ok(lines[0]!.startsWith(`hvkit: ${typed}: `), lines[0]);
  assert.match(lines[0]!, rest);
  assert.doesNotMatch(lines[0]!, /ENOENT|EEXIST|\.tmp\b|, open '/);
}

function domainState(): string {
  const r = ctl(['list', '--json']);
  assert.equal(r.code, 0, r.err);
  return (JSON.parse(r.out) as { domid: number; state: string }[]).find((d) => d.domid === 1)!.state;
}

describe('ctl restore FILE', () => {
  it('refuses a FIFO at once, and the host answers the next request', () => {
    const fifo = join(dir, 'restore.fifo');
    execFileSync('mkfifo', [fifo]);
    environmentFailure(ctl(['restore', 'restore.fifo']), 'restore.fifo', /not-regular-file: is a FIFO/);
    assert.equal(domainState(), 'running', 'the host still serves its control socket');
  });

  it('exits 2 naming a missing path as typed', () => {
    environmentFailure(ctl(['restore', '/nonexistent']), '/nonexistent', /: no such file or directory$/);
    environmentFailure(ctl(['restore', 'nope.hvst']), 'nope.hvst', /: no such file or directory$/);
  });

  it('still exits 1 for a file that is not a valid stream', () => {
    writeFileSync(join(dir, 'bad.hvst'), 'not a stream at all, just some bytes of text');
    const r = ctl(['restore', 'bad.hvst']);
    assert.equal(r.code, 1, r.err);
  });
});

describe('ctl save DOMID FILE', () => {
  let n = 0;
  const freshDir = () => {
    const d = join(dir, `save${n++}`);
    mkdirSync(d);
    return d;
  };

  it('exits 2 naming a path whose directory is missing, with no temporary name', () => {
    environmentFailure(ctl(['save', '1', '/nonexistent/x']), '/nonexistent/x', /: no such file or directory$/);
    environmentFailure(ctl(['save', '1', 'no/such/x']), 'no/such/x', /: no such file or directory$/);
    assert.equal(domainState(), 'running');
  });

  it('refuses an existing file without --force and replaces it with --force', () => {
    const d = freshDir();
    const file = join(d, 'one.hvst');
    writeFileSync(file, 'precious');
    environmentFailure(ctl(['save', '1', file]), file, /exists: already exists/);
    assert.equal(readFileSync(file, 'utf8'), 'precious', 'untouched');
    assert.deepEqual(readdirSync(d), ['one.hvst'], 'no temporary file left');
    assert.equal(domainState(), 'running', 'the refused save left the domain running');
    const forced = ctl(['save', '1', file, '--force']);
    assert.equal(forced.code, 0, forced.err);
    assert.notEqual(readFileSync(file, 'utf8'), 'precious');
    assert.deepEqual(readdirSync(d), ['one.hvst']);
    const restored = ctl(['restore', file]);
    assert.equal(restored.code, 0, restored.err);
  });

  it('refuses a FIFO, a directory and a symlink even with --force, leaving them as they were', () => {
    const d = freshDir();
    const fifo = join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const sub = join(d, 'sub');
    mkdirSync(sub);
    const target = join(d, 'target');
    writeFileSync(target, 'target');
    const link = join(d, 'link');
    symlinkSync(target, link);
    for (const force of [[], ['--force']]) {
      environmentFailure(ctl(['save', '1', fifo, ...force]), fifo, /not-regular-file: is a FIFO/);
      environmentFailure(ctl(['save', '1', sub, ...force]), sub, /not-regular-file: is a directory/);
      environmentFailure(ctl(['save', '1', link, ...force]), link, /symlink: is a symbolic link/);
    }
    assert.ok(lstatSync(fifo).isFIFO());
    assert.ok(lstatSync(sub).isDirectory());
    assert.equal(readlinkSync(link), target);
    assert.equal(readFileSync(target, 'utf8'), 'target');
    assert.deepEqual(readdirSync(d).sort(), ['fifo', 'link', 'sub', 'target'], 'no temporary file left');
  });

  it('never turns a device node into a regular file (root only: mknod)', (t: TestContext) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to create a device node');
      return;
    }
    const d = freshDir();
    const dev = join(d, 'x');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    environmentFailure(ctl(['save', '1', dev, '--force']), dev, /not-regular-file: is a character device/);
    assert.ok(lstatSync(dev).isCharacterDevice(), 'still a character device');
    assert.deepEqual(readdirSync(d), ['x']);
  });
});
