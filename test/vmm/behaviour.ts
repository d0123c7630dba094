/**
 * The behavioural tests every CPU backend must pass (run by kvm-backend.kvm.test.ts and
 * sim-backend.test.ts): workloads agree with their reports and the stats table, pause/stop work
 * for a guest that never exits, crashes are reported with registers, nothing leaks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kvmVendorModule } from '../../src/kvm/system.ts';
import type { Backend, DomainEvent } from '../../src/vmm/backend.ts';
import { PORT, REPORT, WORKLOAD } from '../../src/vmm/guest-abi.ts';
import type { GuestProgram } from '../../src/vmm/guests.ts';
import {
  createTestDomain,
  eventually,
  referenceReports,
  reportsOf,
  threadCount,
  vcpuCounters,
  vcpuIdentity,
} from './helpers.ts';

export interface BackendUnderTest {
  /** Undefined when the backend cannot run here; else the backend (opened once per file). */
  backend(): Backend | undefined;
  skipReason(): string;
  /** Extra checks against the CPU's own counters (KVM's stats fd), given each vCPU's hvkit counters. */
  checkCpuCounters?(
    runtimeFds: { vm?: number; vcpus: number[] },
    counters: Map<string, bigint>[],
    log: (s: string) => void,
    /** String I/O instructions (`rep outsb`) each vCPU's guest executed. */
    stringIos: bigint,
  ): void;
}

/** Rounds per workload: enough for halts and I/O on every vCPU, few enough for emulated CPUs. */
const ROUNDS: Record<'compute' | 'io' | 'mixed', number> = { compute: 6, io: 2 * WORKLOAD.IO_HALT_EVERY, mixed: 4 };

function finalReport(reports: Array<[number, bigint]>, code: number): bigint {
  const r = reports.find(([c]) => c === code);
  assert.ok(r, `no ${code} report`);
  return r[1];
}

export function behaviourSuite(under: BackendUnderTest): void {
  for (const workload of ['compute', 'io', 'mixed'] as const) {
    test(`${workload}: guest reports, hvkit's VMM counters and the CPU's counters agree`, async (t) => {
      const backend = under.backend();
      if (!backend) return t.skip(under.skipReason());
      const rounds = ROUNDS[workload];
      const d = await createTestDomain(backend, workload, { rounds });
      try {
        await d.runtime.start();
        await d.settled;
        await d.runtime.pause();
        const all: Map<string, bigint>[] = [];
        for (let vcpu = 0; vcpu < 2; vcpu++) {
          const reports = reportsOf(d.events, vcpu);
          // The guest did exactly what the reference interpretation of its program says.
          assert.deepEqual(reports, referenceReports(workload, vcpu, rounds), `vcpu ${vcpu} report sequence`);
          assert.equal(finalReport(reports, REPORT.CHECK_ERRORS), 0n, 'every IN value was the promised one');
          const halts = finalReport(reports, REPORT.HALTS);
          const ioOps = finalReport(reports, REPORT.IO_OPS);
          const totalReports = finalReport(reports, REPORT.REPORTS) + 2n;
          assert.equal(BigInt(reports.length), totalReports);

          const c = vcpuCounters(d.region, vcpu);
          all.push(c);
          const get = (name: string) => {
            const v = c.get(name);
            assert.notEqual(v, undefined, `${name} is produced`);
            return v!;
          };
          assert.equal(get('exits.hlt_exits'), halts, 'hlt_exits = HLTs the guest executed');
          assert.equal(get('halt.halt_wakeups'), halts, 'one VMM halt per HLT');
          assert.equal(get('vmm.guest_reports'), totalReports);
          assert.equal(get('io.pio_ops'), ioOps + 2n * totalReports, 'port accesses = guest I/O + 2 per report');
          assert.equal(
            get('io.pio_bytes'),
            workload === 'mixed'
              ? 4n * (ioOps + 2n * totalReports) - 3n * 17n * BigInt(rounds)
              : 4n * get('io.pio_ops'),
          );
          const ioExits = get('exits.io_exits');
          if (workload === 'mixed') {
            // One `rep outsb` of N bytes per round: one exit, or up to N (the CPU may split it).
            const strings = BigInt(rounds * (WORKLOAD.MIXED_STRING_BYTES - 1));
            assert.ok(ioExits >= get('io.pio_ops') - strings && ioExits <= get('io.pio_ops'), `io_exits ${ioExits}`);
          } else {
            assert.equal(ioExits, get('io.pio_ops'), 'one exit per access without string I/O');
          }
          assert.equal(
            get('exits.exits_total'),
            ioExits + halts + get('exits.signal_exits'),
            'every exit counted under its reason',
          );
          assert.equal(get('exits.shutdown_exits') + get('exits.error_exits') + get('exits.mmio_exits'), 0n);
          // Ports group: the report ports carry one access per report each, the rest is guest I/O.
          const ports = new Map<bigint, bigint>();
          for (let slot = 0; slot < 8; slot++) {
            const port = c.get(`ports.port${slot}`);
            if (port !== undefined) ports.set(port, get(`ports.port${slot}_accesses`));
          }
          assert.equal(ports.get(BigInt(PORT.REPORT_VALUE)), totalReports);
          assert.equal(ports.get(BigInt(PORT.REPORT_CODE)), totalReports);
          const others = [...ports].filter(([p]) => p !== BigInt(PORT.REPORT_VALUE) && p !== BigInt(PORT.REPORT_CODE));
          assert.equal(
            others.reduce((a, [, n]) => a + n, 0n),
            ioOps,
          );
          assert.ok(get('vmm.run_time_ns') > 0n && get('vmm.exit_handling_ns') > 0n);
          assert.equal(get('vmm.exit_latency_hist'), get('exits.exits_total'), 'one latency sample per exit');
          assert.equal(get('vmm.halted_ns'), get('halt.halt_wait_ns'));
          assert.equal(get('halt.halt_wait_hist'), halts);
          const id = vcpuIdentity(d.region, vcpu);
          assert.ok((id.hostTid ?? 0) > 0, 'host thread id published');
        }
        const stringIos = workload === 'mixed' ? BigInt(rounds) : 0n; // one `rep outsb` per round
        under.checkCpuCounters?.(d.runtime.kvmStatsFds(), all, (s) => t.diagnostic(s), stringIos);
      } finally {
        await d.close();
      }
    });
  }

  test('pause, unpause, stop and destroy a guest that never exits', async (t) => {
    const backend = under.backend();
    if (!backend) return t.skip(under.skipReason());
    const d = await createTestDomain(backend, 'spin');
    try {
      assert.equal(d.runtime.state, 'created');
      await d.runtime.start();
      await d.reportsFrom(1); // START: every vCPU is about to enter its endless loop
      // Give the vCPUs time to get into the loop, so the pause has to kick them out of it (a
      // pause that lands earlier passes too, and is caught by the signal_exits check below).
      await new Promise((r) => setTimeout(r, 100));
      await d.runtime.pause();
      assert.equal(d.runtime.state, 'paused');
      const kicked = [0, 1].map((v) => vcpuCounters(d.region, v).get('exits.signal_exits')!);
      assert.ok(
        kicked.every((n) => n >= 1n),
        `each vCPU was kicked out of the guest (${kicked})`,
      );
      await d.runtime.unpause();
      assert.equal(d.runtime.state, 'running');
      await d.runtime.stop();
      assert.equal(d.runtime.state, 'stopped');
      await d.runtime.destroy();
      assert.equal(d.runtime.state, 'destroyed');
      await d.runtime.destroy(); // idempotent
      await assert.rejects(d.runtime.start(), { name: 'UsageError' });
    } finally {
      await d.close();
    }
  });

  for (const [program, reason, counter] of [
    ['fault', /triple fault/, 'exits.shutdown_exits'],
    ['mmio', /MMIO.*write of 4 bytes at guest physical 0xd0000000/, 'exits.mmio_exits'],
  ] as const) {
    test(`a ${program} guest is reported as crashed with its registers, and the domain still stops`, async (t) => {
      const backend = under.backend();
      if (!backend) return t.skip(under.skipReason());
      const d = await createTestDomain(backend, program as GuestProgram);
      try {
        await d.runtime.start();
        await d.settled;
        const crashes = d.events.filter((e): e is Extract<DomainEvent, { kind: 'crashed' }> => e.kind === 'crashed');
        assert.deepEqual(crashes.map((e) => e.vcpu).sort(), [0, 1]);
        for (const e of crashes) {
          assert.match(e.reason, reason);
          // The rule on every vendor: the faulting registers when the kernel keeps them (VMX, PVM,
          // sim), or a `lost` note when it reset the vCPU (kvm_amd INITs it on a triple fault) —
          // never reset registers passed off as the guest's.
          if (e.registers.lost !== undefined) {
            assert.equal(program, 'fault', 'only a triple fault loses the registers');
            assert.equal(e.registers.rip, '0xfff0', 'a lost state is the INIT state');
            assert.match(e.registers.cs ?? '', /^0xf000 base 0xffff0000 /);
          } else {
            const amd = backend.kind === 'kvm' && kvmVendorModule() === 'kvm_amd';
            assert.ok(!amd || program !== 'fault', 'kvm_amd always resets the vCPU on a triple fault');
            assert.equal(e.registers.rbx, `0x${e.vcpu}`, 'registers show the vCPU index the guest got in EBX');
            if (program === 'fault') assert.equal(e.registers.rsi, '0xdeadbeef');
          }
          assert.equal(vcpuCounters(d.region, e.vcpu).get(counter), 1n);
        }
        await d.runtime.pause();
        await d.runtime.stop();
      } finally {
        await d.close();
      }
    });
  }

  test('destroy leaves no worker thread behind and closes the CPU fds', async (t) => {
    const backend = under.backend();
    if (!backend) return t.skip(under.skipReason());
    const threads = threadCount();
    const d = await createTestDomain(backend, 'io', { vcpus: 3 });
    await d.runtime.start();
    await d.reportsFrom(3);
    assert.ok(threadCount() >= threads + 3, 'one thread per vCPU');
    await d.close();
    assert.deepEqual(d.runtime.kvmStatsFds(), { vcpus: [] });
    assert.ok(await eventually(() => threadCount() <= threads), `threads back to ${threads} (now ${threadCount()})`);
  });
}
