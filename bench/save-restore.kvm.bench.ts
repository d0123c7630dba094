/**
 * Save and restore of a 256 MiB micro-VM against the physical limit of the same machine: writing
 * and reading the same number of bytes to and from a file.
 *
 *  save      saveDomain: pause, capture, stream (CRC-32 per record, zero-page elision), write to
 *            a temp file, fsync, rename, unpause.
 *  restore   restoreDomain: read and verify the whole stream, create the domain from it (memory
 *            filled page by page), then destroy it again (the destroy is inside the timing).
 *  write     the peer: writeFileSync + fsync of a buffer of the stream's size.
 *  read      the peer: readFileSync of that file.
 *
 * The guest's memory above its first MiB is filled with non-zero pseudo-random bytes while it is
 * paused (the guest never touches it), so nearly every page is stored: the stream is as large as
 * the guest. KVM when usable, else the simulated backend (same stream, same memory).
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { Host } from '../src/host/host.ts';
import { runtimeOf } from '../src/host/migration/hooks.ts';
import { restoreDomain, saveDomain } from '../src/host/migration/save-restore.ts';
import { kvmUnavailableReason } from '../src/kvm/system.ts';
import { KvmBackend } from '../src/vmm/kvm-backend.ts';
import { SimBackend } from '../src/vmm/sim-backend.ts';

const MEMORY_MIB = 256;
const why = kvmUnavailableReason();
const host = Host.start({ backend: why === undefined ? KvmBackend.open() : new SimBackend(), ownsBackend: true });
const dir = mkdtempSync(join(tmpdir(), 'hvkit-bench-'));
const file = join(dir, 'guest.hvst');
const peer = join(dir, 'peer.bin');
console.log(`backend: ${host.backend.kind}${why ? ` (${why})` : ''}; guest: ${MEMORY_MIB} MiB, 1 vCPU, compute`);

try {
  const dom = await host.createDomain({ name: 'bench', vcpus: 1, memoryMiB: MEMORY_MIB, workload: 'compute' });
  await host.pause(dom.domid);
  const memory = runtimeOf(host, dom.domid).guestMemory();
  const chunk = new Uint8Array(1 << 20);
  let x = 0x9e3779b9;
  for (let gpa = 1 << 20; gpa < MEMORY_MIB << 20; gpa += chunk.length) {
    const words = new Uint32Array(chunk.buffer);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0 || 1;
    }
    memory.write(gpa, chunk);
  }
  await host.unpause(dom.domid);

  const first = await saveDomain(host, dom.domid, file);
  const bytes = statSync(file).size;
  console.log(`stream: ${(bytes / 2 ** 20).toFixed(1)} MiB (${first.bytes} bytes written)`);
  const payload = readFileSync(file);

  const writePeer = () => {
    const fd = openSync(peer, 'w');
    for (let off = 0; off < payload.length; )
      off += writeSync(fd, payload, off, Math.min(4 << 20, payload.length - off));
    fsyncSync(fd);
    closeSync(fd);
  };
  writePeer();

  summary(() => {
    bench('save 256 MiB guest (stream to file, fsync, rename)', async () => {
      do_not_optimize(await saveDomain(host, dom.domid, file));
    }).gc('inner');
    bench('write the same bytes to a file (fsync)', () => writePeer()).gc('inner');
  });
  summary(() => {
    bench('restore 256 MiB guest (verify, create, destroy)', async () => {
      const r = await restoreDomain(host, file, { paused: true });
      await host.destroy(r.domain.domid);
    }).gc('inner');
    bench('read the same bytes from a file', () => do_not_optimize(readFileSync(peer))).gc('inner');
  });

  const results = await run();
  const avg = (name: string) => {
    for (const trial of results.benchmarks) if (trial.alias.includes(name)) return trial.runs[0]?.stats?.avg;
    return undefined;
  };
  const mbps = (ns: number | undefined) => (ns ? bytes / 1e6 / (ns / 1e9) : Number.NaN);
  const save = avg('save 256');
  const write = avg('write the same');
  const restore = avg('restore 256');
  const read = avg('read the same');
  console.log(
    `\nsave:    ${mbps(save).toFixed(0)} MB/s   write peer: ${mbps(write).toFixed(0)} MB/s   ratio save/write: ${(mbps(save) / mbps(write)).toFixed(2)}`,
  );
  console.log(
    `restore: ${mbps(restore).toFixed(0)} MB/s   read peer:  ${mbps(read).toFixed(0)} MB/s   ratio restore/read: ${(mbps(restore) / mbps(read)).toFixed(2)}`,
  );
} finally {
  await host.stop();
  rmSync(dir, { recursive: true, force: true });
}
