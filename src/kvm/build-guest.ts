/**
 * Builds a guest program from its source in guest/<name>/<name>.S with the system toolchain
 * (cc preprocesses and assembles, ld places it at its load address, objcopy extracts the raw
 * bytes) into build/guest/, cached by a hash of the source and the build recipe.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

export interface GuestProgramOptions {
  /** Cache file prefix (the workload's name). */
  name: string;
  /** Guest physical address the program is linked for (its entry, `_start`, comes first). */
  loadAddress: number;
  /** Sources relative to the guest directory: `.S` (assembled) and `.c` (compiled), in link order. */
  sources: string[];
  /** Preprocessor definitions shared by every source (e.g. the guest ABI's port numbers). */
  defines?: Record<string, number | string>;
  guestDir?: string;
  cacheDir?: string;
}

/**
 * Flags for 32-bit freestanding guests: no libc, no PIC (the image runs at its link address with
 * paging off), no SSE/x87 state (the VMM never sets it up), no stack protector (no TLS).
 */
const C32_FLAGS = [
  '-m32',
  '-march=i686',
  '-std=c11',
  '-O2',
  '-ffreestanding',
  '-nostdlib',
  '-fno-pic',
  '-fno-pie',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-fno-builtin',
  '-mgeneral-regs-only',
  '-Wall',
  '-Wextra',
  '-Werror',
];

/** Everything allocated lands in one flat image starting at the entry section. */
function linkerScript(loadAddress: number): string {
  return [
    'ENTRY(_start)',
    'SECTIONS {',
    `  . = 0x${loadAddress.toString(16)};`,
    '  .text : { *(.text.entry) *(.text .text.*) }',
    '  .rodata : { *(.rodata .rodata.*) }',
    '  .data : { *(.data .data.*) }',
    '  .bss : { *(.bss .bss.*) *(COMMON) }',
    '  /DISCARD/ : { *(.note .note.*) *(.comment) *(.eh_frame) }',
    '}',
    '',
  ].join('\n');
}

function programRecipe(
  sources: string[],
  objs: string[],
  defines: string[],
  include: string,
  script: string,
  elf: string,
  bin: string,
): string[][] {
  const compile = sources.map((src, i) => ['cc', ...C32_FLAGS, `-I${include}`, ...defines, '-c', '-o', objs[i]!, src]);
  return [
    ...compile,
    ['ld', '-m', 'elf_i386', '-z', 'noexecstack', '--build-id=none', '-T', script, '-o', elf, ...objs],
    ['objcopy', '-O', 'binary', elf, bin],
  ];
}

/**
 * Builds a 32-bit protected-mode guest from C and assembly sources (sharing the guest
 * directory's `common/` headers through -I), cached by a hash of every source, the common
 * headers, the definitions and the recipe.
 */
export function buildGuestProgram(options: GuestProgramOptions): GuestImage {
  const { name, loadAddress } = options;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new RangeError(`bad guest name: ${name}`);
  if (options.sources.length === 0) throw new RangeError(`guest ${name} has no sources`);
  const guestDir = options.guestDir ?? join(REPO_ROOT, 'guest');
  const cacheDir = options.cacheDir ?? join(REPO_ROOT, 'build', 'guest');
  const include = join(guestDir, 'common');
  const defines = Object.entries(options.defines ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `-D${k}=${v}`);
  const hash = createHash('sha256');
  for (const rel of options.sources) {
    if (rel.includes('..') || !/\.(c|S)$/.test(rel)) throw new RangeError(`bad guest source: ${rel}`);
    const src = join(guestDir, rel);
    if (!existsSync(src)) throw new KvmError(`guest source not found: ${src}`);
    hash.update(rel).update(readFileSync(src));
  }
  if (existsSync(include)) {
    for (const h of readdirSync(include)
      .filter((f) => f.endsWith('.h'))
      .sort()) {
      hash.update(h).update(readFileSync(join(include, h)));
    }
  }
  const recipeShape = programRecipe(options.sources, options.sources.map(String), defines, 'I', 'T', 'E', 'B');
  hash.update(JSON.stringify(recipeShape)).update(linkerScript(loadAddress));
  const path = join(cacheDir, `${name}-${hash.digest('hex').slice(0, 16)}.bin`);
  if (!existsSync(path)) {
    mkdirSync(cacheDir, { recursive: true });
    const work = mkdtempSync(join(cacheDir, `.${name}-`));
    try {
      const script = join(work, 'guest.ld');
      writeFileSync(script, linkerScript(loadAddress));
      const objs = options.sources.map((_, i) => join(work, `${i}.o`));
      const bin = join(work, `${name}.bin`);
      const srcs = options.sources.map((rel) => join(guestDir, rel));
      for (const step of programRecipe(srcs, objs, defines, include, script, join(work, `${name}.elf`), bin)) {
        run(step);
      }
      renameSync(bin, path); // atomic: a concurrent build never sees half a file
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const bytes = new Uint8Array(readFileSync(path));
  if (bytes.length === 0) throw new KvmError(`guest ${name} built to an empty image`);
  return { name, loadAddress, bytes, path };
}
