/**
 * A stand-in VMM for the attach tests, run as a separate process through tsx. argv[2] is a JSON
 * ChildConfig. It creates VMs with src/kvm, runs the capture guest on every vCPU (vCPU i of VM v
 * writes 2 + v * 4 + i bytes, so every vCPU's io_exits differ), optionally keeps the stats fds
 * open and publishes hvkit stats tables with identity words, then prints one JSON line and
 * answers stdin commands: "read" (values read from its own stats fds) and "exit".
 */
import { createInterface } from 'node:readline';
import { processStartTime } from '../../src/attach/procfs.ts';
import { identityOffsets } from '../../src/attach/table-identity.ts';
import { tableName } from '../../src/attach/tables.ts';
import { KvmStatsReader } from '../../src/formats/kvm-stats/reader.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import { loadCaptureGuest, runCaptureGuest } from '../../src/kvm/capture-guest.ts';
import { statsFdSource } from '../../src/kvm/stats-source.ts';
import { KvmSystem } from '../../src/kvm/system.ts';
import type { Vm } from '../../src/kvm/vm.ts';
import type { Region } from '../../src/shm/region.ts';
import { createShmRegion } from '../../src/shm/shm-file.ts';

export interface ChildConfig {
  vms: number;
  vcpus: number;
  /** Keep the VM and vCPU stats fds open (false: like an older QEMU, VM fds only). */
  statsFds: boolean;
  /** Publish an hvkit stats table per VM (domids 1.., unique ids from uniqueBase). */
  tables: boolean;
  uniqueBase?: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const start = processStartTime(process.pid)!;
const kvm = KvmSystem.open();
const vms: Vm[] = [];
const regions: Region[] = [];
const out: Record<string, unknown>[] = [];

function writeIdentity(region: Region, writer: StatsTableWriter, vm: Vm, domid: number, uniqueId: bigint) {
  const abi = shippedStatsTableAbi();
  const at = identityOffsets(abi);
  const view = new DataView(region.bytes.buffer, region.bytes.byteOffset, region.length);
  const put = (w: { offset: number; size: 4 | 8 } | undefined, base: number, v: bigint) => {
    if (!w) throw new Error('this stats-table revision has no identity words');
    if (w.size === 4) view.setUint32(base + w.offset, Number(v), true);
    else view.setBigUint64(base + w.offset, v, true);
  };
  put(at.dom.domid, 0, BigInt(domid));
  put(at.dom.owner_pid, 0, BigInt(process.pid));
  put(at.dom.owner_start_time, 0, start);
  put(at.dom.unique_id, 0, uniqueId);
  if (config.statsFds) put(at.dom.vm_stats_fd, 0, BigInt(vm.statsFd + 1));
  vm.vcpus.forEach((v, i) => {
    const base = writer.layout.vcpuOffs + i * writer.layout.vcpuStride;
    if (config.statsFds) put(at.vcpu.kvm_stats_fd, base, BigInt(v.statsFd + 1));
  });
}

for (let v = 0; v < config.vms; v++) {
  const vm = kvm.createVm();
  vms.push(vm);
  loadCaptureGuest(vm);
  for (let i = 0; i < config.vcpus; i++) runCaptureGuest(vm.createVcpu(), 2 + v * 4 + i);
  const info: Record<string, unknown> = { vmFd: vm.fd };
  if (config.statsFds) {
    info.vmStatsFd = vm.statsFd;
    info.vcpuStatsFds = vm.vcpus.map((c) => c.statsFd);
  }
  if (config.tables) {
    const domid = v + 1;
    const uniqueId = BigInt(config.uniqueBase ?? '0x1000') + BigInt(v);
    const abi = shippedStatsTableAbi();
    const layout = StatsTableWriter.plan(abi, { nrVcpus: config.vcpus });
    const name = tableName(process.pid, start, domid, uniqueId);
    const region = createShmRegion(name, layout.regionSize);
    regions.push(region);
    const writer = StatsTableWriter.create(region, abi, { nrVcpus: config.vcpus });
    writeIdentity(region, writer, vm, domid, uniqueId);
    for (let i = 0; i < config.vcpus; i++) {
      writer.update(i, 'exits', (g) => g.set(g.counter('io_exits'), 2 + v * 4 + i));
    }
    Object.assign(info, { domid, uniqueId: uniqueId.toString(), table: name });
  }
  out.push(info);
}
kvm.close();

function readOwn(fd: number): Record<string, string> {
  const reader = KvmStatsReader.open(statsFdSource(fd));
  const values = reader.toRecord(reader.readData());
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

function shutdown(code: number) {
  for (const r of regions) r.close();
  for (const vm of vms) vm.close();
  process.exit(code);
}

process.on('SIGTERM', () => shutdown(0));
console.log(JSON.stringify({ pid: process.pid, startTime: start.toString(), vms: out }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'exit') shutdown(0);
  if (line === 'read') {
    const values = vms.map((vm) => ({
      id: KvmStatsReader.open(statsFdSource(vm.statsFd)).layout.id,
      vm: readOwn(vm.statsFd),
      vcpus: vm.vcpus.map((c) => readOwn(c.statsFd)),
    }));
    console.log(JSON.stringify({ values }));
  }
}
shutdown(0);
