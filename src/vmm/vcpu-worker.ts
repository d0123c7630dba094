/**
 * Entry point of a vCPU worker thread (both backends): attaches to the domain's stats table,
 * publishes its identity (KVM stats fd, host thread id), builds its CPU core (a borrowed KVM vCPU
 * or a simulated guest) and runs the shared VMM loop until the host says STOP.
 *
 * Messages to the host: { type: 'ready', tid } once set up, { type: 'event', event } for every
 * DomainEvent. A thrown error ends the worker with an 'error' event the host turns into `crashed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { statsTableRevision } from '../formats/stats-table/abi.ts';
import { StatsTableWriter } from '../formats/stats-table/writer.ts';
import { currentThreadId, installKickHandler } from '../kvm/kick.ts';
import type { DomainEvent } from './backend.ts';
import { MailboxClient } from './call-mailbox.ts';
import { CMD, VcpuControl } from './control.ts';
import type { CpuCore } from './cpu-core.ts';
import { KvmCore } from './kvm-core.ts';
import { SimCore } from './sim-core.ts';
import { SnapshotSlot } from './snapshot-slot.ts';
import { borrowStatsTable } from './stats-mapping.ts';
import { runVcpuLoop } from './vcpu-loop.ts';
import { VcpuStats } from './vcpu-stats.ts';
import type { VcpuWorkerData } from './worker-data.ts';

const data = workerData as VcpuWorkerData;
const control = new VcpuControl(data.control, data.vcpu);
const post = (message: unknown) => parentPort?.postMessage(message);

const region = borrowStatsTable(data.statsRegion, data.statsArea);
let core: CpuCore | undefined;
try {
  const writer = StatsTableWriter.attach(region, statsTableRevision(data.statsRevision));
  const tid = currentThreadId();
  if (data.kvm) {
    installKickHandler();
    core = new KvmCore(data.vcpu, data.kvm.vcpuFd, data.kvm.run);
  } else {
    core = new SimCore(
      data.program,
      data.vcpu,
      data.rounds,
      () => control.command !== CMD.RUN,
      {
        arg: data.arg,
        ...(data.simMemory ? { memory: data.simMemory } : {}),
      },
      data.restore?.sim,
    );
  }
  writer.setVcpuIdentity(data.vcpu, { kvmStatsFd: data.kvm ? data.kvm.statsFd : null, hostTid: tid });
  const stats = new VcpuStats(writer, data.vcpu);
  post({ type: 'ready', tid });
  runVcpuLoop({
    vcpu: data.vcpu,
    core,
    control,
    stats,
    calls: new MailboxClient(data.mailbox, data.vcpu, () => control.command === CMD.STOP),
    emit: (event: DomainEvent) => post({ type: 'event', event }),
    ...(data.snapshot
      ? {
          snapshot: {
            slot: new SnapshotSlot(data.snapshot, data.vcpu),
            ...(data.restore ? { initial: { parked: data.restore.parked, devices: data.restore.devices } } : {}),
          },
        }
      : {}),
  });
} finally {
  core?.close();
  region.close();
}
