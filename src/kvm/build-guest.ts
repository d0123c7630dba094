/**
 * Builds a guest program from its source in guest/<name>/<name>.S with the system toolchain
 * (cc preprocesses and assembles, ld places it at its load address, objcopy extracts the raw
 * bytes) into build/guest/, cached by a hash of the source and the build recipe.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmError } from './errors.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GuestImage {
  name: string;
  /** Guest physical address the image was linked for and must be copied to. */
  loadAddress: number;
  /** Flat binary, ready to copy into guest memory. */
  bytes: Uint8Array;
  /** Where the cached binary lives. */
  path: string;
}

export interface BuildGuestOptions {
  loadAddress: number;
  /** Defaults to the repository's guest/ directory. */
  guestDir?: string;
  /** Defaults to the repository's build/guest/ directory. */
  cacheDir?: string;
}

function recipe(src: string, obj: string, elf: string, bin: string, loadAddress: number): string[][] {
  return [
    ['cc', '-c', '-o', obj, src],
    [
      'ld',
      '-z',
      'noexecstack',
      '--build-id=none',
      `-Ttext=0x${loadAddress.toString(16)}`,
      '-e',
      '_start',
      '-o',
      elf,
      obj,
    ],
    ['objcopy', '-O', 'binary', '-j', '.text', elf, bin],
  ];
}

function run(argv: string[]): void {
  const [cmd, ...args] = argv as [string, ...string[]];
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new KvmError(
      `building guests needs a C compiler and GNU binutils (cc, ld, objcopy); \`${cmd}\` was not found on PATH`,
    );
  }
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new KvmError(`guest build step failed: ${argv.join(' ')}\n${(r.stderr || r.stdout).trim()}`);
  }
}

/** Returns the built image of guest `name`, building it only when source or recipe changed. */
export function buildGuest(name: string, options: BuildGuestOptions): GuestImage {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new RangeError(`bad guest name: ${name}`);
  const { loadAddress } = options;
  const src = join(options.guestDir ?? join(REPO_ROOT, 'guest'), name, `${name}.S`);
  const cacheDir = options.cacheDir ?? join(REPO_ROOT, 'build', 'guest');
  if (!existsSync(src)) throw new KvmError(`guest source not found: ${src}`);

  const hash = createHash('sha256')
    .update(readFileSync(src))
    .update(JSON.stringify(recipe('S', 'O', 'E', 'B', loadAddress)))
    .digest('hex')
    .slice(0, 16);
  const path = join(cacheDir, `${name}-${hash}.bin`);
  if (!existsSync(path)) {
    mkdirSync(cacheDir, { recursive: true });
    const work = mkdtempSync(join(cacheDir, `.${name}-`));
    try {
      const bin = join(work, `${name}.bin`);
      for (const step of recipe(src, join(work, `${name}.o`), join(work, `${name}.elf`), bin, loadAddress)) run(step);
      renameSync(bin, path); // atomic: a concurrent build never sees half a file
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const bytes = new Uint8Array(readFileSync(path));
  if (bytes.length === 0) throw new KvmError(`guest ${name} built to an empty image`);
  return { name, loadAddress, bytes, path };
}
