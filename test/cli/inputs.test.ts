/**
 * What `hvkit check` and `hvkit dump` do with an input that is not a regular file: a FIFO given
 * as FILE or planted under a region name in /dev/shm, a symlink, a device, a missing path. Each is
 * refused at once with exit 2 and one line naming the path and the rule — never a hang.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { shmPath } from '../../src/shm/shm-file.ts';
import { writeKvmStats } from '../support/kvm-stats-writer.ts';
import { hangDeadline } from '../support/slowdown.ts';

const HVKIT = new URL('../../bin/hvkit.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'hvkit-cli-inputs-'));
const shmNames: string[] = [];
after(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const n of shmNames) if (existsSync(shmPath(n))) unlinkSync(shmPath(n));
});

/** `hvkit ARGS…`, bounded: an open(2) that blocks fails the test instead of hanging it. */
function hvkit(...args: string[]) {
  const r = spawnSync(process.execPath, [HVKIT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: hangDeadline(30_000),
  });
  assert.equal(r.error, undefined, `hvkit ${args.join(' ')} did not finish (blocked in open?)`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function refused(args: string[], line: string) {
  const r = hvkit(...args);
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err, `hvkit: ${line}\n`);
  assert.equal(r.out, '');
}

describe('check and dump refuse inputs that are not regular files', () => {
  it('a FIFO given as FILE', () => {
    const fifo = join(dir, 'stats.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const cmd of ['check', 'dump']) {
      refused([cmd, fifo], `${fifo}: not-regular-file: is a FIFO, not a regular file`);
    }
  });

  it('a FIFO planted under a region name in /dev/shm (--shm)', () => {
    const name = `hvkit-inputs-fifo-${process.pid}`;
    shmNames.push(name);
    execFileSync('mkfifo', [shmPath(name)]);
    for (const cmd of ['check', 'dump']) {
      refused([cmd, '--shm', name], `${shmPath(name)}: not-regular-file: is a FIFO, not a regular file`);
    }
  });

  it('a symlink (not followed), a device and a directory', () => {
    const real = join(dir, 'real.kvmstats');
    writeFileSync(real, writeKvmStats('kvm-1/vcpu-0', []));
    assert.equal(hvkit('check', real).code, 0);
    const link = join(dir, 'link.kvmstats');
    symlinkSync(real, link);
    refused(['check', link], `${link}: symlink: is a symbolic link (not followed)`);
    refused(['dump', '/dev/null'], '/dev/null: not-regular-file: is a character device, not a regular file');
    refused(['check', dir], `${dir}: not-regular-file: is a directory, not a regular file`);
  });

  it('a missing path: exit 2 naming it, without errno codes', () => {
    refused(['check', '/nonexistent'], '/nonexistent: no such file or directory');
    refused(['dump', join(dir, 'nope')], `${join(dir, 'nope')}: no such file or directory`);
  });
});

describe('outputs the CLI writes refuse what is not a regular file', () => {
  it('top --log: a FIFO is refused at once, a symlink is not followed', () => {
    const fifo = join(dir, 'log.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = hvkit('top', '--count', '1', '--log', fifo);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`--log ${fifo}: not-regular-file: `));
    const target = join(dir, 'log-target.csv');
    writeFileSync(target, '');
    const link = join(dir, 'log-link.csv');
    symlinkSync(target, link);
    const l = hvkit('top', '--count', '1', '--log', link);
    assert.equal(l.code, 2, l.err);
    assert.match(l.err, new RegExp(`--log ${link}: symlink: `));
  });

  it('abi gen --out: replaces a regular file, refuses a FIFO or a symlink', () => {
    const out = join(dir, 'table.h');
    writeFileSync(out, 'old');
    assert.equal(hvkit('abi', 'gen', 'c', 'stats-table', '--out', out).code, 0);
    assert.match(readFileSync(out, 'utf8'), /#/);
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    refused(
      ['abi', 'gen', 'c', 'stats-table', '--out', fifo],
      `${fifo}: not-regular-file: is a FIFO: refusing to replace it`,
    );
    const link = join(dir, 'out-link.h');
    symlinkSync(out, link);
    refused(
      ['abi', 'gen', 'md', 'stats-table', '--out', link],
      `${link}: symlink: is a symbolic link: refusing to replace it`,
    );
  });
});
