/**
 * A stand-in VMM for the attach tests, run as a separate process through tsx. argv[2] is a JSON
 * ChildConfig. It creates VMs with src/kvm, runs the capture guest on every vCPU (vCPU i of VM v
 * writes 2 + v * 4 + i bytes, so every vCPU's io_exits differ), optionally keeps the stats fds
 * open and publishes hvkit stats tables with identity words (and a name for the first), then prints one JSON line and
 * answers stdin commands: "read" (values read from its own stats fds) and "exit".
 */
import { createInterface } from 'node:readline';
import { tableName } from '../../src/attach/tables.ts';
import { KvmStatsReader } from '../../src/formats/kvm-stats/reader.ts';
import { StatsTableWriter, shippedStatsTableAbi } from '../../src/formats/stats-table/index.ts';
import { loadCaptureGuest, runCaptureGuest } from '../../src/kvm/capture-guest.ts';
import { statsFdSource } from '../../src/kvm/stats-source.ts';
import { KvmSystem } from '../../src/kvm/system.ts';
import type { Vm } from '../../src/kvm/vm.ts';
import { processStartTime } from '../../src/os/procfs.ts';
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

/** The identity a host publishes; VM 0 is named (`vm-0`), the others are not (so top falls back to dom<domid>). */
function writeIdentity(writer: StatsTableWriter, vm: Vm, v: number, domid: number, uniqueId: bigint) {
  writer.setIdentity({
    domid,
    ownerPid: process.pid,
    ownerStartTime: start,
    uniqueId,
    ...(config.statsFds ? { vmStatsFd: vm.statsFd } : {}),
    ...(v === 0 ? { name: 'vm-0' } : {}),
  });
  if (config.statsFds) {
    vm.vcpus.forEach((c, i) => {
      writer.setVcpuIdentity(i, { kvmStatsFd: c.statsFd });
    });
  }
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
    writeIdentity(writer, vm, v, domid, uniqueId);
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
