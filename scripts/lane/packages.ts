/**
 * Debian packages for the KVM lane: what they resolve to today (their exact versions key the cache)
 * and their files, fetched with apt-get download and unpacked with dpkg -x (nothing is installed).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export class LaneSetupError extends Error {
  override name = 'LaneSetupError';
}

export interface Resolved {
  /** The binary package to download, e.g. linux-image-6.1.0-57-amd64. */
  name: string;
  version: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new LaneSetupError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new LaneSetupError(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${detail}`);
  }
  return r.stdout;
}

function candidate(pkg: string): string | undefined {
  const out = run('apt-cache', ['policy', pkg]);
  const m = /Candidate:\s*(\S+)/.exec(out);
  return m && m[1] !== '(none)' ? m[1] : undefined;
}

/** Runs apt-get update once when the package lists do not know `pkg` (a fresh machine). */
function ensureLists(pkg: string): void {
  if (candidate(pkg) !== undefined) return;
  if (process.getuid?.() !== 0) {
    throw new LaneSetupError(`apt does not know ${pkg}; run 'apt-get update' as root first`);
  }
  run('apt-get', ['update', '-qq']);
  if (candidate(pkg) === undefined) throw new LaneSetupError(`no Debian package ${pkg} in the configured sources`);
}

/**
 * The package a name stands for: a metapackage such as linux-image-amd64 resolves to the kernel
 * package it depends on, so a new Debian kernel changes the cache key.
 */
export function resolvePackage(pkg: string, followMeta = false): Resolved {
  ensureLists(pkg);
  let name = pkg;
  if (followMeta) {
    const deps = run('apt-cache', ['depends', pkg]);
    const m = /Depends:\s*(linux-image-\S+)/.exec(deps);
    if (!m?.[1]) throw new LaneSetupError(`${pkg} depends on no linux-image package`);
    name = m[1];
  }
  const version = candidate(name);
  if (version === undefined) throw new LaneSetupError(`no candidate version of ${name}`);
  return { name, version };
}

/** Downloads the package's .deb into `dir` and unpacks it into `dir/root`; returns that root. */
export function fetchAndUnpack(pkg: Resolved, dir: string): string {
  mkdirSync(dir, { recursive: true });
  // As root apt drops to its _apt user, which cannot write into our directory; it falls back with
  // a warning. Downloading as root directly avoids the noise.
  run('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', `${pkg.name}=${pkg.version}`], dir);
  const deb = readdirSync(dir).find((f) => f.startsWith(`${pkg.name}_`) && f.endsWith('.deb'));
  if (!deb) throw new LaneSetupError(`apt-get download left no .deb for ${pkg.name}`);
  const root = join(dir, 'root');
  run('dpkg', ['-x', join(dir, deb), root]);
  return root;
}
