/**
 * The save/restore/migration stream (DESIGN §5): one byte stream that carries a whole micro-VM —
 * written to a file by `save`, read back by `restore`, sent over a socket by `migrate`.
 *
 * Layout: an `image_header` (32 bytes), then records, each a `record_header` (type, length of the
 * body, CRC-32 checksum, reserved) followed by `length` body bytes and zero padding to the next
 * multiple of 8. The last record is END (type 0, 8 zero bytes of body); nothing may follow it.
 *
 * Record types: bit 31 set = optional. A reader refuses an unknown mandatory type and skips an
 * unknown optional one (after verifying its checksum). A record body starts with the struct the
 * record names; memory, pool and stats records carry data after it.
 *
 * Versions: `image_header.version` is the frozen revision of this schema the writer was built
 * from. A reader reads its own revision and the previous one (upgrading the older stream in
 * memory) and refuses any other, naming both versions. Revision 1 stored memory as `memory`
 * records (one per 1 MiB chunk, elided only when the whole chunk is zero); revision 2 retired
 * them for `memory_pages` records (a present-page bitmap per chunk: every all-zero 4 KiB page is
 * elided).
 *
 * Checksums are CRC-32 (the IEEE polynomial of zlib/gzip): a record's covers its header with the
 * checksum field zeroed, then its body; the image header's covers the header with its own
 * checksum field zeroed. They are stored and verified (a stream with one wrong checksum is refused).
 */
import { array, chars, defineAbi, int, magic, nested, reserved } from '../../src/abi/schema.ts';

export default defineAbi({
  name: 'stream',
  doc: 'The versioned save/restore/migration stream of a micro-VM: image header, checksummed type-length-value records (mandatory/optional type space), END last. `hvkit ctl save` writes it to a file (temporary name, fsync, rename), `hvkit ctl restore` verifies the whole stream before it creates anything, and `hvkit ctl migrate` sends it over a unix or loopback TCP socket. Migration is stop-and-copy, not pre-copy: the domain runs on while the hosts connect and agree on a version, is paused for the copy of its vCPU state and memory, and is destroyed only after the destination verified the stream, created the domain and confirmed it runs; any failure or timeout before that unpauses it on the source and the destination destroys what it created. A restored or migrated domain gets a new domid and unique id (they name a domain on one host; the original may still exist).',
  major: 1,
  constants: [
    {
      name: 'MARKER',
      doc: 'First 8 bytes of every stream: all ones (no legacy hvkit image starts this way).',
      type: 'u64',
      value: 0xffff_ffff_ffff_ffffn,
      kind: 'magic',
    },
    {
      name: 'IDENT',
      doc: 'Stream identifier after the marker ("HVST").',
      type: 'u32',
      value: 0x48565354,
      kind: 'magic',
    },
    {
      name: 'OPTIONAL_BIT',
      doc: 'Record type bit 31: the record is optional (an unknown one is skipped, not refused).',
      type: 'u32',
      value: 0x8000_0000,
      kind: 'const',
    },
    {
      name: 'RECORD_ALIGN',
      doc: 'Records start at multiples of this many bytes.',
      type: 'u32',
      value: 8,
      kind: 'const',
    },
    {
      name: 'MAX_RECORD_BODY',
      doc: 'Largest record body a reader accepts (a full memory chunk plus its head).',
      type: 'u32',
      value: 0x0010_1000,
      kind: 'const',
    },
    { name: 'PAGE_BYTES', doc: 'Guest page size.', type: 'u32', value: 4096, kind: 'const' },
    {
      name: 'CHUNK_BYTES',
      doc: 'Guest memory per memory record: chunk i covers guest physical [i × CHUNK_BYTES, (i + 1) × CHUNK_BYTES).',
      type: 'u32',
      value: 0x0010_0000,
      kind: 'const',
    },
  ],
  enums: [
    {
      name: 'image_options',
      doc: 'Properties of the whole image.',
      kind: 'flags',
      type: 'u32',
      values: [
        { name: 'migration', value: 0, doc: 'Written by a live migration (stop-and-copy), not by save.' },
        { name: 'paused', value: 1, doc: 'The domain was paused by its owner when saved: restore leaves it paused.' },
      ],
    },
    {
      name: 'workload',
      doc: 'The domain’s workload.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'compute', value: 1, doc: 'Compute rounds with a halt each.' },
        { name: 'io', value: 2, doc: 'Port I/O bursts.' },
        { name: 'mixed', value: 3, doc: 'Compute, port I/O, string I/O and halts.' },
      ],
    },
    {
      name: 'guest_program',
      doc: 'The guest program the vCPUs run (the workload’s, or a test guest).',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'compute', value: 1, doc: 'guest/compute.' },
        { name: 'io', value: 2, doc: 'guest/io.' },
        { name: 'mixed', value: 3, doc: 'guest/mixed.' },
        { name: 'spin', value: 4, doc: 'guest/spin: never exits.' },
        { name: 'fault', value: 5, doc: 'guest/fault: triple fault.' },
        { name: 'mmio', value: 6, doc: 'guest/mmio: an access no device serves.' },
      ],
    },
    {
      name: 'cpu_kind',
      doc: 'Which CPU the vCPU state belongs to; an image restores only on a host with the same backend.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'kvm', value: 1, doc: 'A KVM vCPU: kvm_regs and kvm_sregs hold its state.' },
        { name: 'sim', value: 2, doc: 'A simulated guest: `sim` holds its state.' },
      ],
    },
    {
      name: 'vcpu_flags',
      doc: 'Run state of a vCPU.',
      kind: 'flags',
      type: 'u32',
      values: [{ name: 'parked', value: 0, doc: 'The guest finished or crashed: the vCPU stays out of the guest.' }],
    },
    {
      name: 'memory_flags',
      doc: 'Properties of a revision-1 memory chunk.',
      kind: 'flags',
      type: 'u32',
      values: [{ name: 'zero', value: 0, doc: 'Every byte of the chunk is zero: no data follows.' }],
    },
    {
      name: 'sim_phase',
      doc: 'Where a simulated guest is in its program.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'start', value: 0, doc: 'Sending its START report.' },
        { name: 'round', value: 1, doc: 'Running round `round`.' },
        { name: 'final', value: 2, doc: 'Sending its final reports.' },
        { name: 'idle', value: 3, doc: 'Halting forever (finished).' },
        { name: 'test', value: 4, doc: 'A test guest doing its one behaviour.' },
      ],
    },
  ],
  structs: [
    {
      name: 'image_header',
      doc: 'Offset 0 of the stream.',
      sizing: 'fixed',
      fields: [
        magic('marker', 'u64', 'MARKER', 'MARKER.'),
        magic('ident', 'u32', 'IDENT', 'IDENT.'),
        int('version', 'u32', 'Frozen revision of this schema the writer was built from.'),
        int('options', 'u32', 'Properties of the image; unknown bits must be zero.', { flags: 'image_options' }),
        int('header_checksum', 'u32', 'CRC-32 of this header with this field zeroed.'),
        reserved('header_reserved', 8, 'Must be zero.'),
      ],
    },
    {
      name: 'record_header',
      doc: 'Starts every record; the body follows, then zero padding to RECORD_ALIGN.',
      sizing: 'fixed',
      fields: [
        int('type', 'u32', 'Record type; bit 31 = optional.'),
        int('length', 'u32', 'Bytes of body (padding excluded); at most MAX_RECORD_BODY.'),
        int('checksum', 'u32', 'CRC-32 of this header (checksum zeroed) followed by the body.'),
        reserved('record_reserved', 4, 'Must be zero.'),
      ],
    },
    {
      name: 'end',
      doc: 'Body of END (length 8).',
      sizing: 'fixed',
      fields: [reserved('end_reserved', 8, 'Must be zero.')],
    },
    {
      name: 'domain_header',
      doc: 'What the domain is. Its domid and unique id are not carried: they name a domain on one host, and the restored domain is a new domain there.',
      sizing: 'versioned',
      fields: [
        chars('name', 16, 'Name (UTF-8, NUL-padded, at most 15 bytes).'),
        int('vcpus', 'u32', 'Number of vCPUs (1..32); exactly this many vcpu records follow.'),
        int('memory_mib', 'u32', 'Guest RAM in MiB (1..4096); the memory records cover exactly this much.'),
        int('workload', 'u32', 'Workload.', { enum: 'workload' }),
        int('program', 'u32', 'Guest program the vCPUs run.', { enum: 'guest_program' }),
        int('rounds', 'u32', 'Rounds the guest runs before it finishes (0 = forever).'),
        int('cpu', 'u32', 'CPU backend the vCPU state belongs to.', { enum: 'cpu_kind' }),
        reserved('domain_reserved', 8, 'Must be zero.'),
      ],
    },
    {
      name: 'sim_cpu',
      doc: 'State of a simulated guest (cpu = sim).',
      sizing: 'fixed',
      fields: [
        int('started', 'u32', '1 once the guest produced its first operation.'),
        int('phase', 'u32', 'Where it is.', { enum: 'sim_phase' }),
        int('round', 'u32', 'Current round (phase round).'),
        int('step', 'u32', 'Operation index within the phase.'),
        int('x', 'u32', 'Value the current round computed at its start.'),
        int('halts', 'u32', 'HLTs executed.'),
        int('io_ops', 'u32', 'Port accesses counted by the guest.'),
        int('reports', 'u32', 'Reports sent.'),
        int('errors', 'u32', 'IN values that were not the promised ones.'),
        int('checksum', 'u32', 'Running digest.'),
        int('in_value', 'u32', 'Value supplied to a pending IN, delivered on resume.'),
        int('spin_state', 'u32', 'xorshift state of a spinning guest.'),
        int('steps', 'u64', 'Operations performed.'),
      ],
    },
    {
      name: 'vcpu_state',
      doc: 'Everything needed to resume one vCPU exactly: its CPU state (port I/O completed before capture) and its device model.',
      sizing: 'versioned',
      fields: [
        int('vcpu', 'u32', 'vCPU index (0..vcpus-1, each exactly once).'),
        int('flags', 'u32', 'Run state.', { flags: 'vcpu_flags' }),
        int('cpu', 'u32', 'Which of kvm_* / sim is valid (the other is zero).', { enum: 'cpu_kind' }),
        int('report_latch', 'u32', 'Device model: value latched by the last REPORT_VALUE write.'),
        int('halt_period_us', 'u32', 'Device model: halt period.'),
        array('device_last', 'u32', 4, 'Device model: last value written to each device port.'),
        reserved('vcpu_reserved', 4, 'Must be zero.'),
        array('kvm_regs', 'u64', 18, 'struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags.'),
        array('kvm_sregs', 'u8', 312, 'struct kvm_sregs (x86-64), as KVM_GET_SREGS returned it.'),
        nested('sim', 'sim_cpu', 'Simulated guest state.'),
      ],
    },
    {
      name: 'memory_chunk',
      doc: 'Revision 1 memory: head of chunk `gpa / CHUNK_BYTES`, followed by `size` bytes unless flag zero.',
      sizing: 'fixed',
      fields: [
        int('gpa', 'u64', 'Guest physical address (a multiple of CHUNK_BYTES).'),
        int('size', 'u32', 'Bytes covered: CHUNK_BYTES, or what remains of guest RAM for the last chunk.'),
        int('flags', 'u32', 'Chunk properties.', { flags: 'memory_flags' }),
      ],
    },
    {
      name: 'memory_pages',
      doc: 'Revision 2 memory: head of chunk `gpa / CHUNK_BYTES`, followed by one PAGE_BYTES page per set bit of `present`, in page order; pages whose bit is clear are zero.',
      sizing: 'fixed',
      fields: [
        int('gpa', 'u64', 'Guest physical address (a multiple of CHUNK_BYTES).'),
        int('pages', 'u32', 'Pages covered: 256, or what remains of guest RAM for the last chunk.'),
        reserved('pages_reserved', 4, 'Must be zero.'),
        array(
          'present',
          'u64',
          4,
          'Bit p (word p / 64, bit p % 64): page p of the chunk follows. Bits ≥ pages are zero.',
        ),
      ],
    },
    {
      name: 'pool_blob',
      doc: 'Head of the page pools’ snapshot, followed by `size` bytes in the pool service’s own snapshot format.',
      sizing: 'fixed',
      fields: [
        int('format', 'u32', 'Version of the pool snapshot format (the pool service’s).'),
        int('size', 'u32', 'Bytes that follow.'),
      ],
    },
    {
      name: 'stats_blob',
      doc: 'Head of a copy of the domain’s stats table at save time (informational), followed by `size` bytes: the region as the stats-table ABI lays it out.',
      sizing: 'fixed',
      fields: [int('revision', 'u32', 'Stats-table revision of the copy.'), int('size', 'u32', 'Bytes that follow.')],
    },
  ],
  records: [
    { name: 'end', type: 0, mandatory: true, struct: 'end', doc: 'Last record; nothing follows.' },
    { name: 'domain', type: 1, mandatory: true, struct: 'domain_header', doc: 'First record: the domain.' },
    { name: 'vcpu', type: 2, mandatory: true, struct: 'vcpu_state', doc: 'One per vCPU.' },
    {
      name: 'memory',
      type: 3,
      mandatory: true,
      struct: 'memory_chunk',
      retired: true,
      doc: 'Revision 1 memory chunk (whole-chunk zero elision); read from revision-1 streams only.',
    },
    {
      name: 'memory_pages',
      type: 4,
      mandatory: true,
      struct: 'memory_pages',
      doc: 'One per CHUNK_BYTES of guest RAM, in address order (per-page zero elision).',
    },
    { name: 'pools', type: 0x8000_0001, mandatory: false, struct: 'pool_blob', doc: 'The domain’s page pools.' },
    { name: 'stats', type: 0x8000_0002, mandatory: false, struct: 'stats_blob', doc: 'Stats table snapshot.' },
  ],
});
