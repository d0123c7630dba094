/**
 * The VMM-level statistics of one vCPU, written lock-free into its own block of the domain's
 * stats table (the worker attached to the table the host created). Each update touches only the
 * groups the event changes, each under its own sequence lock:
 *   exits   VM exits that reached the VMM, by reason (signal_exits = kicks out of KVM_RUN)
 *   io      port accesses and bytes, I/O handling latency
 *   ports   accesses per port (slots in order of first use)
 *   vmm     time inside KVM_RUN, exit handling time and its log2 histogram, halted time, reports
 *   halt    VMM-side halts: wakeups, wait time and its log2 histogram
 * Counters the VMM does not produce are marked inactive (all ones), not left at a misleading 0.
 */

import type { PortCounter } from '../formats/stats-table/port-counter.ts';
import type { GroupWriter, StatsTableWriter } from '../formats/stats-table/writer.ts';

export type ExitCounter = 'io_exits' | 'hlt_exits' | 'mmio_exits' | 'signal_exits' | 'shutdown_exits' | 'error_exits';

const NOT_PRODUCED: Record<string, string[]> = {
  exits: ['irq_window_exits', 'insn_emulations'],
  halt: ['halt_poll_success', 'halt_poll_attempts'],
  io: ['mmio_ops', 'mmio_bytes'],
};

export class VcpuStats {
  readonly #exits: GroupWriter;
  readonly #io: GroupWriter;
  readonly #vmm: GroupWriter;
  readonly #halt: GroupWriter;
  readonly #ports: PortCounter<GroupWriter>;
  readonly #exitId: Record<ExitCounter | 'exits_total', number>;
  readonly #hypercalls: number;
  readonly #pioOps: number;
  readonly #pioBytes: number;
  readonly #ioHist: number;
  readonly #ioHistBuckets: number;
  readonly #runNs: number;
  readonly #handlingNs: number;
  readonly #haltedNs: number;
  readonly #reports: number;
  readonly #latencyHist: number;
  readonly #latencyBuckets: number;
  readonly #wakeups: number;
  readonly #haltWaitNs: number;
  readonly #haltHist: number;
  readonly #haltHistBuckets: number;

  constructor(writer: StatsTableWriter, vcpu: number) {
    this.#exits = writer.vcpu(vcpu, 'exits');
    this.#io = writer.vcpu(vcpu, 'io');
    this.#vmm = writer.vcpu(vcpu, 'vmm');
    this.#halt = writer.vcpu(vcpu, 'halt');
    this.#ports = writer.ports(vcpu);
    for (const [group, names] of Object.entries(NOT_PRODUCED)) {
      const g = writer.vcpu(vcpu, group);
      for (const name of names) g.markInactive(name);
    }
    const e = this.#exits;
    this.#exitId = {
      exits_total: e.counter('exits_total'),
      io_exits: e.counter('io_exits'),
      hlt_exits: e.counter('hlt_exits'),
      mmio_exits: e.counter('mmio_exits'),
      signal_exits: e.counter('signal_exits'),
      shutdown_exits: e.counter('shutdown_exits'),
      error_exits: e.counter('error_exits'),
    };
    this.#hypercalls = e.counter('hypercalls');
    this.#pioOps = this.#io.counter('pio_ops');
    this.#pioBytes = this.#io.counter('pio_bytes');
    this.#ioHist = this.#io.counter('io_latency_hist');
    this.#ioHistBuckets = this.#io.length('io_latency_hist');
    this.#runNs = this.#vmm.counter('run_time_ns');
    this.#handlingNs = this.#vmm.counter('exit_handling_ns');
    this.#haltedNs = this.#vmm.counter('halted_ns');
    this.#reports = this.#vmm.counter('guest_reports');
    this.#latencyHist = this.#vmm.counter('exit_latency_hist');
    this.#latencyBuckets = this.#vmm.length('exit_latency_hist');
    this.#wakeups = this.#halt.counter('halt_wakeups');
    this.#haltWaitNs = this.#halt.counter('halt_wait_ns');
    this.#haltHist = this.#halt.counter('halt_wait_hist');
    this.#haltHistBuckets = this.#halt.length('halt_wait_hist');
  }

  /** One return from the CPU (a guest exit or a kick), counted under `reason`. */
  exit(reason: ExitCounter): void {
    const g = this.#exits;
    g.begin();
    g.add(this.#exitId.exits_total, 1);
    g.add(this.#exitId[reason], 1);
    g.end();
  }

  /** One hypercall (an I/O exit to the hypercall port, already counted by exit()). */
  hypercall(): void {
    const g = this.#exits;
    g.begin();
    g.add(this.#hypercalls, 1);
    g.end();
  }

  /** One I/O exit: `count` accesses of `size` bytes to `port`, handled in `handlingNs`. */
  portIo(port: number, size: number, count: number, handlingNs: number): void {
    const io = this.#io;
    io.begin();
    io.add(this.#pioOps, count);
    io.add(this.#pioBytes, size * count);
    io.recordLog2(this.#ioHist, handlingNs, this.#ioHistBuckets);
    io.end();
    const ports = this.#ports.group;
    ports.begin();
    this.#ports.count(port, count);
    ports.end();
  }

  /** Time accounting of one pass through the loop: inside the CPU, handling the exit, reports delivered. */
  timing(runNs: number, handlingNs: number, reports: number): void {
    const v = this.#vmm;
    v.begin();
    v.add(this.#runNs, runNs);
    v.add(this.#handlingNs, handlingNs);
    v.recordLog2(this.#latencyHist, handlingNs, this.#latencyBuckets);
    if (reports !== 0) v.add(this.#reports, reports);
    v.end();
  }

  /** One VMM-side halt that lasted `ns`. */
  halted(ns: number): void {
    const h = this.#halt;
    h.begin();
    h.add(this.#wakeups, 1);
    h.add(this.#haltWaitNs, ns);
    h.recordLog2(this.#haltHist, ns, this.#haltHistBuckets);
    h.end();
    const v = this.#vmm;
    v.begin();
    v.add(this.#haltedNs, ns);
    v.end();
  }
}
