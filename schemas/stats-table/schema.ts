/**
 * The domain/vCPU statistics table (DESIGN §1): one shared-memory region per domain.
 *
 * Layout of a region: the domain block (`dom`) at offset 0, then `nr_vcpus` vCPU blocks (`vcpu`)
 * starting at `vcpu_offs`, `vcpu_stride` bytes apart. The producer writes its own sizes into the
 * domain block header; consumers compute every address from those, never from their own sizes.
 *
 * Evolution is append-only: a new group (or new counters) goes at the tail of `dom` or `vcpu`.
 * Groups are `fixed`: a group in the middle of a block can never grow. Revision history:
 *   rev 1: dom {header, sched}; vcpu {header, exits, halt}; vcpu_arch_x86.
 *   rev 2: dom appends the `memory` group; vcpu appends the `io` group (counters + a histogram).
 *   rev 3: identity words carved out of reserved bytes: the domain's domid, unique id and owner
 *          (pid, process start time, the VM's KVM stats fd); each vCPU's KVM stats fd and thread
 *          id; two exit reasons carved out of the exits group's padding.
 *   rev 4: vcpu appends the `vmm` group (time in and out of the guest, exit handling latency) and
 *          the `ports` group (port I/O counted per port, in eight slots).
 *   rev 5: the domain's name (16 bytes of UTF-8, NUL-padded) carved out of the domain header's
 *          reserved bytes.
 *   rev 6: dom appends the `pool` group (the domain's page pools: puts, gets, hits, misses,
 *          evictions, pages held, flushes, refused puts).
 */
import {
  array,
  chars,
  counter,
  defineAbi,
  type FieldSpec,
  int,
  magic,
  nested,
  reserved,
  type StructSpec,
  seq,
} from '../../src/abi/schema.ts';

const NS = { unit: 'seconds', base: 'pow10', exponent: -9 } as const;
/** Slots of the per-port counters group. */
const PORT_SLOTS = 8;

/** A stats group: its own sequence word (odd = update in progress), then u64 counters, on its own cache lines. */
function group(name: string, doc: string, counters: FieldSpec[]): StructSpec {
  return {
    name,
    doc,
    sizing: 'fixed',
    align: 64,
    seqField: 'seq',
    fields: [seq('seq', 'u32', 'Sequence word: odd while the producer updates this group.'), ...counters],
  };
}

function log2Hist(name: string, buckets: number, doc: string) {
  return array(name, 'u64', buckets, `${doc} Bucket 0 counts 0, bucket i counts [2^(i-1), 2^i) ns.`, {
    stat: { type: 'log-hist', ...NS },
    inactiveWhenAllOnes: true,
  });
}

export default defineAbi({
  name: 'stats-table',
  doc: 'Per-domain statistics in shared memory: a domain block at offset 0 and an array of vCPU blocks, each made of seqlocked groups of u64 counters.',
  major: 1,
  constants: [
    {
      name: 'DOM_MAGIC',
      doc: 'First word of the domain block ("HVDT").',
      type: 'u32',
      value: 0x48564454,
      kind: 'magic',
    },
    {
      name: 'VCPU_MAGIC',
      doc: 'First word of each vCPU block ("HVCV").',
      type: 'u32',
      value: 0x48564356,
      kind: 'magic',
    },
    {
      name: 'INACTIVE',
      doc: 'A counter holding all ones is not produced.',
      type: 'u64',
      value: 2n ** 64n - 1n,
      kind: 'const',
    },
  ],
  enums: [
    {
      name: 'arch',
      doc: 'Which architecture-specific structs the arch blocks hold.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'none', value: 0, doc: 'No arch blocks.' },
        { name: 'x86_64', value: 1, doc: 'vcpu_arch_x86 in each vCPU block; no domain arch block yet.' },
      ],
    },
    {
      name: 'dom_groups',
      doc: 'Groups of the domain block (bit numbers of dom_active).',
      kind: 'flags',
      type: 'u64',
      values: [
        { name: 'sched', value: 0, doc: 'Scheduling totals.' },
        { name: 'memory', value: 1, doc: 'Guest memory (since rev 2).' },
        { name: 'pool', value: 2, doc: 'Page pools of the domain (since rev 6).' },
      ],
    },
    {
      name: 'vcpu_groups',
      doc: 'Groups of each vCPU block (bit numbers of vcpu_active).',
      kind: 'flags',
      type: 'u64',
      values: [
        { name: 'exits', value: 0, doc: 'VM exits by reason.' },
        { name: 'halt', value: 1, doc: 'Halt polling and halt wait time.' },
        { name: 'io', value: 2, doc: 'Port and MMIO I/O (since rev 2).' },
        { name: 'vmm', value: 3, doc: 'Time in the guest and exit handling by the VMM (since rev 4).' },
        { name: 'ports', value: 4, doc: 'Port I/O per port (since rev 4).' },
      ],
    },
  ],
  structs: [
    group('dom_sched', 'Scheduling totals of the domain.', [
      counter('cpu_time_ns', 'Time the vCPUs spent running guest code.', NS),
      counter('steal_time_ns', 'Time runnable vCPUs waited for a host CPU.', NS),
      counter('wakeups', 'vCPU wakeups.'),
      counter('vcpus_running', 'vCPUs currently running.', { type: 'instant' }),
      counter('vcpus_running_peak', 'Most vCPUs seen running at once.', { type: 'peak' }),
    ]),
    group('dom_memory', 'Guest memory of the domain (since rev 2).', [
      counter('pages_present', 'Guest pages currently backed by host memory.', { type: 'instant' }),
      counter('pages_peak', 'Most guest pages ever backed at once.', { type: 'peak' }),
      counter('page_faults', 'Faults that populated a guest page.'),
      counter('bytes_mapped', 'Bytes of guest memory mapped by the host.', { type: 'instant', unit: 'bytes' }),
    ]),
    group('dom_pool', 'Page pools (tmem-style) of the domain, all its pools together (since rev 6).', [
      counter('puts', 'Put-page calls (accepted or not).'),
      counter('gets', 'Get-page calls.'),
      counter('hits', 'Gets that found the page.'),
      counter('misses', 'Gets that did not find the page.'),
      counter('evictions', 'Pages of ephemeral pools dropped to stay within a memory budget.'),
      counter('pages_held', 'Pages the domain’s pools hold now.', { type: 'instant' }),
      counter('flushes', 'Pages removed by flush-page, flush-object or destroy-pool.'),
      counter('refused', 'Puts refused (a persistent pool over its budget, or no memory).'),
    ]),
    {
      name: 'dom',
      doc: 'The domain block at offset 0: the magic, the producer’s layout, then the domain groups.',
      sizing: 'versioned',
      align: 64,
      fields: [
        magic('magic', 'u32', 'DOM_MAGIC', 'DOM_MAGIC; a different value is a different (incompatible) table.'),
        int('revision', 'u32', 'Schema revision the producer was built from (informational; 0 = unfrozen).'),
        int('dom_size', 'u32', 'Bytes of the domain block the producer writes (its sizeof(dom)).'),
        int('vcpu_offs', 'u32', 'Offset of the first vCPU block; ≥ dom_size.'),
        int('vcpu_size', 'u32', 'Bytes of each vCPU block the producer writes (its sizeof(vcpu)).'),
        int('vcpu_stride', 'u32', 'Distance between vCPU blocks; ≥ vcpu_size.'),
        int('nr_vcpus', 'u32', 'Number of vCPU blocks.'),
        int('page_size', 'u32', 'Page size of the region; region_size is a multiple of it.'),
        int('region_size', 'u64', 'Bytes of the region; ≥ vcpu_offs + nr_vcpus × vcpu_stride.'),
        int('dom_active', 'u64', 'Domain groups the producer writes.', { flags: 'dom_groups' }),
        int('vcpu_active', 'u64', 'vCPU groups the producer writes (in every vCPU block).', { flags: 'vcpu_groups' }),
        int('arch', 'u32', 'Kind of the arch blocks.', { enum: 'arch' }),
        int('arch_dom_offs', 'u32', 'Offset of the domain arch block in [dom_size, vcpu_offs); 0 = none.'),
        int('arch_dom_size', 'u32', 'Bytes of the domain arch block; 0 = none.'),
        int(
          'arch_vcpu_offs',
          'u32',
          'Offset of the arch block inside each vCPU block, in [vcpu_size, vcpu_stride); 0 = none.',
        ),
        int('arch_vcpu_size', 'u32', 'Bytes of the vCPU arch block; 0 = none.'),
        int('domid', 'u32', 'The domain’s id on its host (1..32767, reused after destruction); 0 = not published.'),
        int('owner_pid', 'u32', 'Process id of the producer that owns the domain; 0 = not published (since rev 3).'),
        int(
          'vm_stats_fd',
          'u32',
          'KVM stats fd of the VM in the owner process, plus one; 0 = none (a tool may duplicate it with pidfd_getfd).',
        ),
        int(
          'unique_id',
          'u64',
          'Host-unique 64-bit id of the domain: never repeats, carries no meaning; 0 = not published.',
        ),
        int(
          'owner_start_time',
          'u64',
          'Start time of the owner process in clock ticks after boot (/proc/PID/stat field 22); with owner_pid it names the process across pid reuse. 0 = not published.',
        ),
        chars(
          'name',
          16,
          'The domain’s name: UTF-8, NUL-padded, at most 15 bytes and a NUL; empty = not published (since rev 5).',
        ),
        reserved('layout_reserved', 8, 'Room for future layout words; must be zero.'),
        nested('sched', 'dom_sched', 'Scheduling totals.', { group: { bit: 0 } }),
        nested('memory', 'dom_memory', 'Guest memory (since rev 2).', { group: { bit: 1 } }),
        nested('pool', 'dom_pool', 'Page pools (since rev 6).', { group: { bit: 2 } }),
      ],
    },
    group('vcpu_exits', 'VM exits of one vCPU.', [
      counter('exits_total', 'All VM exits.'),
      counter('io_exits', 'Exits for port I/O.'),
      counter('mmio_exits', 'Exits for MMIO.'),
      counter('hlt_exits', 'Exits for HLT.'),
      counter('irq_window_exits', 'Exits to open an interrupt window.'),
      counter('hypercalls', 'Hypercalls handled.'),
      counter('signal_exits', 'Exits caused by a pending host signal.'),
      counter('insn_emulations', 'Instructions emulated by the host.'),
      counter('shutdown_exits', 'Exits because the guest shut down (triple fault) (since rev 3).'),
      counter('error_exits', 'Exits reporting an internal error or failed entry (since rev 3).'),
    ]),
    group('vcpu_halt', 'Halt polling and halt waiting of one vCPU.', [
      counter('halt_poll_success', 'Halt polls that found work.'),
      counter('halt_poll_attempts', 'Halt polls started.'),
      counter('halt_wakeups', 'Wakeups from halt.'),
      counter('halt_wait_ns', 'Total time spent halted.', NS),
      log2Hist('halt_wait_hist', 32, 'Distribution of halt wait times.'),
    ]),
    group('vcpu_io', 'Port and MMIO I/O of one vCPU (since rev 2).', [
      counter('pio_ops', 'Port I/O accesses.'),
      counter('mmio_ops', 'MMIO accesses.'),
      counter('pio_bytes', 'Bytes moved by port I/O.', { unit: 'bytes' }),
      counter('mmio_bytes', 'Bytes moved by MMIO.', { unit: 'bytes' }),
      log2Hist('io_latency_hist', 16, 'Distribution of I/O handling times.'),
    ]),
    group('vcpu_vmm', 'Where the time of one vCPU goes, as the VMM sees it (since rev 4).', [
      counter('run_time_ns', 'Time spent inside KVM_RUN (running the guest, or halted in the kernel).', NS),
      counter('exit_handling_ns', 'Time the VMM spent handling exits in user space.', NS),
      counter('halted_ns', 'Time the vCPU waited in the VMM after a HLT exit.', NS),
      counter('guest_reports', 'Reports the guest wrote to the hvkit report port.'),
      log2Hist('exit_latency_hist', 32, 'Distribution of user-space exit handling times.'),
    ]),
    group(
      'vcpu_ports',
      'Port I/O per port, in eight slots filled in order of first use (since rev 4).',
      Array.from({ length: PORT_SLOTS }, (_, i) => [
        int(`port${i}`, 'u64', `I/O port number of slot ${i}; all ones = slot unused.`, {
          stat: { type: 'instant', unit: 'none' },
          inactiveWhenAllOnes: true,
        }),
        counter(`port${i}_accesses`, `Accesses (IN or OUT) to the port of slot ${i}.`),
      ]).flat(),
    ),
    {
      name: 'vcpu',
      doc: 'One vCPU block: magic and id, then the vCPU groups.',
      sizing: 'versioned',
      align: 64,
      fields: [
        magic('magic', 'u32', 'VCPU_MAGIC', 'VCPU_MAGIC.'),
        int('vcpu_id', 'u32', 'Index of this vCPU (equal to the block index).'),
        int('kvm_stats_fd', 'u32', 'KVM stats fd of this vCPU in the owner process, plus one; 0 = none (since rev 3).'),
        int('host_tid', 'u32', 'Host thread id running this vCPU; 0 = not published (since rev 3).'),
        reserved('vcpu_reserved', 48, 'Room for future per-vCPU words; must be zero.'),
        nested('exits', 'vcpu_exits', 'VM exits.', { group: { bit: 0 } }),
        nested('halt', 'vcpu_halt', 'Halt polling and waiting.', { group: { bit: 1 } }),
        nested('io', 'vcpu_io', 'Port and MMIO I/O (since rev 2).', { group: { bit: 2 } }),
        nested('vmm', 'vcpu_vmm', 'VMM view of the vCPU’s time (since rev 4).', { group: { bit: 3 } }),
        nested('ports', 'vcpu_ports', 'Port I/O per port (since rev 4).', { group: { bit: 4 } }),
      ],
    },
    {
      name: 'vcpu_arch_x86',
      doc: 'x86-64 specific vCPU stats, located by arch_vcpu_offs/arch_vcpu_size; one seqlocked group.',
      sizing: 'versioned',
      align: 64,
      seqField: 'seq',
      fields: [
        seq('seq', 'u32', 'Sequence word: odd while the producer updates this block.'),
        counter('nmi_injections', 'NMIs injected.'),
        counter('irq_injections', 'External interrupts injected.'),
        counter('tlb_flushes', 'Guest TLB flushes requested.'),
      ],
    },
  ],
});
