/**
 * The domain directory (DESIGN §3): a read-only region a host publishes under /dev/shm as
 * `hvkit.<pid>.<start>.domains`, mapping every domid to the domain that holds (or last held)
 * it. Unprivileged readers use it to list a host's domains and to detect domid reuse: a domid
 * whose unique id or generation changed belongs to a different domain.
 *
 * Layout: the `header` at offset 0 (magic, the producer's layout words, the owner), then
 * `nr_entries` entries starting at `entries_offs`, `entry_stride` bytes apart, indexed by domid
 * (entry 0 is never used: domid 0 is "not a domain"). Every address is computed from the
 * header. Each entry has its own sequence word (odd while the host updates it).
 *
 * Evolution is append-only: a field added later goes at the tail of the header or of the entry
 * (both record their size), carved out of reserved bytes, or is a new enum value.
 */
import { defineAbi, int, magic, reserved, seq } from '../../src/abi/schema.ts';

export default defineAbi({
  name: 'domain-directory',
  doc: 'A host’s domains by domid, in shared memory: state, unique id and generation of the domain that holds (or last held) each domid, so that unprivileged readers can list domains and detect domid reuse.',
  major: 1,
  constants: [
    { name: 'MAGIC', doc: 'First word of the region ("HVDD").', type: 'u32', value: 0x48564444, kind: 'magic' },
    { name: 'MAX_DOMID', doc: 'Largest domid; domids are 1..MAX_DOMID.', type: 'u32', value: 32767, kind: 'const' },
    {
      name: 'NR_ENTRIES',
      doc: 'Entries a producer publishes: one per domid 0..MAX_DOMID (entry 0 stays empty).',
      type: 'u32',
      value: 32768,
      kind: 'const',
    },
  ],
  enums: [
    {
      name: 'domain_state',
      doc: 'State of the domain that holds (or last held) a domid.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'none', value: 0, doc: 'The domid was never used by this host.' },
        { name: 'running', value: 1, doc: 'The guest exists and runs.' },
        { name: 'paused', value: 2, doc: 'The guest exists; its vCPUs are stopped until unpaused.' },
        { name: 'shutdown', value: 3, doc: 'The guest stopped (asked to, or crashed); the domain remains.' },
        { name: 'dying', value: 4, doc: 'Destruction started: the domain’s resources are being released.' },
        {
          name: 'destroyed',
          value: 5,
          doc: 'The domain is gone and the domid is free; unique_id and generation are its last values.',
        },
      ],
    },
    {
      name: 'entry_flags',
      doc: 'Properties of a domain.',
      kind: 'flags',
      type: 'u32',
      values: [
        {
          name: 'stats',
          value: 0,
          doc: 'A stats-table region is published for the domain, named hvkit.<owner_pid>.<owner_start_time>.dom<domid>.<unique_id as 16 hex digits>.stats.',
        },
      ],
    },
  ],
  structs: [
    {
      name: 'header',
      doc: 'The header at offset 0: the magic, the producer’s layout, the owner process.',
      sizing: 'versioned',
      align: 64,
      fields: [
        magic('magic', 'u32', 'MAGIC', 'MAGIC; a different value is a different (incompatible) region.'),
        int('revision', 'u32', 'Schema revision the producer was built from (informational; 0 = unfrozen).'),
        int('header_size', 'u32', 'Bytes of this header the producer writes (its sizeof(header)).'),
        int('entries_offs', 'u32', 'Offset of entry 0; ≥ header_size, a multiple of 8.'),
        int('entry_size', 'u32', 'Bytes of each entry the producer writes (its sizeof(entry)).'),
        int('entry_stride', 'u32', 'Distance between entries; ≥ entry_size, a multiple of 8.'),
        int('nr_entries', 'u32', 'Number of entries: the entry of domid d exists when d < nr_entries.'),
        int('page_size', 'u32', 'Page size of the region; region_size is a multiple of it.'),
        int('region_size', 'u64', 'Bytes of the region; ≥ entries_offs + nr_entries × entry_stride.'),
        int(
          'owner_start_time',
          'u64',
          'Start time of the owning host process in clock ticks after boot (/proc/PID/stat field 22).',
        ),
        int('owner_pid', 'u32', 'Process id of the owning host.'),
        seq(
          'changes',
          'u32',
          'Entry updates completed so far (wraps at 2^32), bumped after each entry’s sequence word turns even: a reader that finds the value of its previous scan may skip the scan.',
        ),
        reserved('header_reserved', 8, 'Room for future header words; must be zero.'),
      ],
    },
    {
      name: 'entry',
      doc: 'The entry of one domid.',
      sizing: 'versioned',
      align: 8,
      fields: [
        seq('seq', 'u32', 'Sequence word: odd while the host updates this entry.'),
        int('state', 'u32', 'State of the domain holding (or last holding) the domid.', { enum: 'domain_state' }),
        int(
          'unique_id',
          'u64',
          'Host-unique 64-bit id of that domain: never repeats on the host, never 0 once used, carries no meaning.',
        ),
        int('generation', 'u32', 'Times the domid was given to a domain; 0 = never. Grows with every reuse.'),
        int('flags', 'u32', 'Properties of the domain.', { flags: 'entry_flags' }),
        int('nr_vcpus', 'u32', 'vCPUs of the domain.'),
        reserved('entry_reserved', 4, 'Room for a future word; must be zero.'),
      ],
    },
  ],
});
