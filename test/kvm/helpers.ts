/**
 * Shared by the KVM integration tests: whether KVM is usable, the independent C reader, and a count
 * of this process's KVM file descriptors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kvmUnavailableReason } from '../../src/kvm/system.ts';

/** Why /dev/kvm is not usable (undefined when it is); null until first asked. */
let cachedWhy: string | undefined | null = null;

/**
 * The one gate of every test that needs KVM: a sentence saying why it is skipped here, or
 * undefined when /dev/kvm is usable. With HVKIT_REQUIRE_KVM=1 (set by scripts/run-tests.mjs)
 * KVM must be usable: instead of a reason it throws, so the test fails rather than skips.
 */
export function kvmSkipReason(): string | undefined {
  if (cachedWhy === null) cachedWhy = kvmUnavailableReason();
  if (cachedWhy === undefined) return undefined;
  if (process.env.HVKIT_REQUIRE_KVM === '1') {
    throw new Error(`KVM is required here (HVKIT_REQUIRE_KVM=1) but not usable: ${cachedWhy}`);
  }
  return `KVM not usable here (${cachedWhy})`;
}

/** Marks the test skipped, with the reason, when KVM is not usable; returns true if it did. */
export function skipWithoutKvm(t: TestContext): boolean {
  const why = kvmSkipReason();
  if (why) t.skip(why);
  return why !== undefined;
}

/** File descriptors of this process that refer to KVM: /dev/kvm and its anon inodes (kvm-vm, kvm-vcpu:N, …-stats). */
export function kvmFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === '/dev/kvm' || target.startsWith('anon_inode:kvm-')) out.push(`${fd} -> ${target}`);
    } catch {
      // the fd readdir itself used, already closed
    }
  }
  return out;
}

const C_SOURCE = fileURLToPath(new URL('../c/kvm_stats_reader.c', import.meta.url));

export interface CReader {
  path: string;
  cleanup(): void;
}

/** Compiles test/c/kvm_stats_reader.c into a temp dir (C11, all warnings as errors). */
export function compileCReader(): CReader {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-kvm-c-'));
  const path = join(dir, 'kvm_stats_reader');
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O2', '-o', path, C_SOURCE], {
    encoding: 'utf8',
  });
  if (cc.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cc failed:\n${cc.stderr || cc.error}`);
  }
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CReaderOutput {
  header: Record<string, string>;
  id: string;
  descriptors: Array<Record<string, string>>;
  /** name (or name[i]) → value. */
  values: Map<string, bigint>;
}

/** Runs the C reader on a live fd (passed as its fd 3) or a file path, with --describe. */
export function runCReader(reader: CReader, target: { fd: number } | { path: string }): CReaderOutput {
  const r =
    'fd' in target
      ? spawnSync(reader.path, ['--describe'], { stdio: ['ignore', 'pipe', 'pipe', target.fd], encoding: 'utf8' })
      : spawnSync(reader.path, ['--describe', target.path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`C reader exited ${r.status}: ${r.stderr}`);
  return parseCReaderOutput(r.stdout);
}

function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(' ')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function parseCReaderOutput(stdout: string): CReaderOutput {
  const out: CReaderOutput = { header: {}, id: '', descriptors: [], values: new Map() };
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#header ')) out.header = fields(line.slice(8));
    else if (line.startsWith('#id ')) out.id = line.slice(4);
    else if (line.startsWith('#desc ')) out.descriptors.push(fields(line.slice(6)));
    else {
      const eq = line.lastIndexOf('=');
      out.values.set(line.slice(0, eq), BigInt(line.slice(eq + 1)));
    }
  }
  return out;
}
