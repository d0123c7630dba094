/**
 * The KVM lane's guest image: Debian's stock kernel and an initramfs holding Debian's static
 * busybox, the modules the guest needs (virtio PCI, 9p over virtio, kvm_amd/kvm_intel and what
 * they depend on) and scripts/lane/init.sh as PID 1. The guest's root filesystem is the host's own
 * root, shared read-only over 9p (as virtme does), so the guest runs the very node, compiler and
 * QEMU the host has: there is no second distribution to keep in step.
 *
 * Built once into build/kvm-lane/image and rebuilt when an input changes: the Debian package
 * versions (a new kernel upload changes the key), init.sh, or this file.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchAndUnpack, LaneSetupError, type Resolved, resolvePackage } from './packages.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const INIT_SCRIPT = join(HERE, 'init.sh');
/** Modules init.sh loads; modules.dep adds what each depends on. */
const GUEST_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'kvm_amd', 'kvm_intel'];

export interface LaneImage {
  kernel: string;
  initrd: string;
  /** e.g. "linux-image-6.1.0-57-amd64 6.1.192-3, busybox-static 1:1.35.0-4+deb12u1+b1" */
  describe: string;
}

function imageKey(kernel: Resolved, busybox: Resolved): string {
  const h = createHash('sha256');
  for (const part of [kernel.name, kernel.version, busybox.name, busybox.version]) h.update(`${part}\0`);
  h.update(readFileSync(INIT_SCRIPT));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  h.update(GUEST_MODULES.join(','));
  return h.digest('hex');
}

/** Returns the cached image when its key matches; builds (and caches) it otherwise. */
export function ensureImage(cacheDir: string, log: (line: string) => void): LaneImage {
  const kernel = resolvePackage('linux-image-amd64', true);
  const busybox = resolvePackage('busybox-static');
  const key = imageKey(kernel, busybox);
  const dir = join(cacheDir, 'image');
  const image: LaneImage = {
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.gz'),
    describe: `${kernel.name} ${kernel.version}, ${busybox.name} ${busybox.version}`,
  };
  const keyFile = join(dir, 'key');
  if (existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key && existsSync(image.initrd)) return image;

  log(`building the guest image (${image.describe}) …`);
  const work = join(cacheDir, `image.tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const kernelRoot = fetchAndUnpack(kernel, join(work, 'kernel'));
    const busyboxRoot = fetchAndUnpack(busybox, join(work, 'busybox'));
    const out = join(work, 'out');
    mkdirSync(out, { recursive: true });
    buildInitramfs(kernelRoot, join(busyboxRoot, 'bin', 'busybox'), join(work, 'initramfs'), join(out, 'initrd.gz'));
    const boot = join(kernelRoot, 'boot');
    const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new LaneSetupError(`${kernel.name} has no boot/vmlinuz-*`);
    copyFileSync(join(boot, vmlinuz), join(out, 'vmlinuz'));
    writeFileSync(join(out, 'key'), key);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return image;
}

function modulesDir(root: string): string {
  for (const base of [join(root, 'lib', 'modules'), join(root, 'usr', 'lib', 'modules')]) {
    if (!existsSync(base)) continue;
    const [version] = readdirSync(base);
    if (version) return join(base, version);
  }
  throw new LaneSetupError(`no lib/modules/<version> in ${root}`);
}

function sh(script: string, cwd: string): void {
  const r = spawnSync('sh', ['-ec', script], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new LaneSetupError(`${script}: ${(r.stderr || r.stdout).trim()}`);
}

/** modules.dep's relative paths of the wanted modules and everything they depend on. */
function moduleClosure(depFile: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(depFile, 'utf8').split('\n')) {
    const [path, rest] = line.split(':');
    if (path && rest !== undefined) deps.set(path, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = (name: string) =>
    [...deps.keys()].find(
      (p) =>
        basename(p)
          .replace(/\.ko(\.\w+)?$/, '')
          .replaceAll('-', '_') === name,
    );
  const out = new Set<string>();
  for (const name of wanted) {
    const path = byName(name);
    if (!path) throw new LaneSetupError(`the kernel package has no module ${name}`);
    out.add(path);
    for (const d of deps.get(path) ?? []) out.add(d);
  }
  return [...out];
}

function buildInitramfs(kernelRoot: string, busybox: string, staging: string, output: string): void {
  const mods = modulesDir(kernelRoot);
  const version = basename(mods);
  // Debian's kernel package ships no modules.dep (depmod runs at install); busybox's depmod makes one.
  sh(`"${busybox}" depmod -b "${dirname(dirname(dirname(mods)))}" ${version}`, kernelRoot);
  const closure = moduleClosure(join(mods, 'modules.dep'), GUEST_MODULES);

  const stagedMods = join(staging, 'lib', 'modules', version);
  for (const rel of closure) {
    mkdirSync(dirname(join(stagedMods, rel)), { recursive: true });
    copyFileSync(join(mods, rel), join(stagedMods, rel));
  }
  for (const d of ['bin', 'proc', 'sys', 'dev', 'newroot']) mkdirSync(join(staging, d), { recursive: true });
  copyFileSync(busybox, join(staging, 'bin', 'busybox'));
  chmodSync(join(staging, 'bin', 'busybox'), 0o755);
  copyFileSync(INIT_SCRIPT, join(staging, 'init'));
  chmodSync(join(staging, 'init'), 0o755);
  sh(`"${busybox}" depmod -b "${staging}" ${version}`, staging);
  sh(`find . | cpio --quiet -o -H newc -R 0:0 | gzip -1 > "${output}"`, staging);
}
