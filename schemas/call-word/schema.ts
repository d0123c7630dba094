/**
 * The call-word ABI (DESIGN §4, after the VMI call ids in seeds/vmi-call-ids.txt): how guests
 * (hypercalls) and tools (the control socket) name a call, what they pass, and what comes back.
 *
 * A call word is a u32: family (bits 31..24) | call number (23..16) | reserved (15..8, must be
 * zero) | annotation (7..0). Annotations are hints: a host that does not know one ignores it and
 * the call still works. Every call takes up to MAX_ARGS u64 arguments (missing ones read as
 * zero) and answers a status (0 = ok, negative = a defined error) and up to MAX_VALUES u64 values.
 *
 * The control socket of a host (`/dev/shm/hvkit.<pid>.<start>.ctl`, a unix stream socket) carries
 * one request frame per call — `request_header` then `nargs` little-endian u64 arguments — and
 * answers each, in order, with a `response_header` then `nvalues` u64 values.
 *
 * Evolution: new families, calls, annotations and status codes are new enum values; a call's
 * arguments and values only grow at the tail (a new argument must mean "old behaviour" when zero).
 *
 * Revision 2 adds the batch calls of the core family (their buffer is schemas/call-batch) and the
 * calls and create flags of the pool family (src/host/pools implements them).
 *
 * Revision 3 names the calls of the stream family (src/host/migration) and of the experimental
 * family (src/calls/experimental.ts), which hosts already served: every call a host serves
 * is named here (test/calls/served-calls.test.ts).
 */
import { defineAbi, int, magic } from '../../src/abi/schema.ts';

export default defineAbi({
  name: 'call-word',
  doc: 'Structured calls: the 32-bit call word (family, call number, reserved, annotation), the status codes, the calls of the core, domain, lifecycle, pool, stream and experimental families, and the frames of a host’s control socket.',
  major: 1,
  constants: [
    { name: 'FAMILY_SHIFT', doc: 'Bit position of the family in a call word.', type: 'u32', value: 24, kind: 'const' },
    {
      name: 'CALL_SHIFT',
      doc: 'Bit position of the call number in a call word.',
      type: 'u32',
      value: 16,
      kind: 'const',
    },
    {
      name: 'RESERVED_MASK',
      doc: 'Reserved bits of a call word (15..8): must be zero, or the call fails with status reserved_bits.',
      type: 'u32',
      value: 0x0000ff00,
      kind: 'const',
    },
    {
      name: 'ANNOTATION_MASK',
      doc: 'Annotation bits of a call word (7..0): hints, unknown ones ignored.',
      type: 'u32',
      value: 0x000000ff,
      kind: 'const',
    },
    {
      name: 'MAX_ARGS',
      doc: 'Most arguments a call takes; a control-socket request with more is a bad frame.',
      type: 'u32',
      value: 8,
      kind: 'const',
    },
    { name: 'MAX_VALUES', doc: 'Most values a call answers.', type: 'u32', value: 16, kind: 'const' },
    {
      name: 'REQUEST_MAGIC',
      doc: 'First word of a control-socket request ("HVCQ").',
      type: 'u32',
      value: 0x48564351,
      kind: 'magic',
    },
    {
      name: 'RESPONSE_MAGIC',
      doc: 'First word of a control-socket response ("HVCR").',
      type: 'u32',
      value: 0x48564352,
      kind: 'magic',
    },
    {
      name: 'POOL_FLAGS_RESERVED_MASK',
      doc: 'Reserved bits (1..23) of the pool create flags: must be zero, or pool.create answers bad_argument and makes no pool.',
      type: 'u32',
      value: 0x00fffffe,
      kind: 'const',
    },
    {
      name: 'POOL_VERSION_SHIFT',
      doc: 'Bit position of the pool ABI version (a pool_version) in the pool create flags.',
      type: 'u32',
      value: 24,
      kind: 'const',
    },
    {
      name: 'POOL_VERSION_MASK',
      doc: 'The pool ABI version field of the create flags (bits 31..24). A version the host does not serve answers not_supported and makes no pool: the guest runs on as if pools were off.',
      type: 'u32',
      value: 0xff000000,
      kind: 'const',
    },
    {
      name: 'POOL_ID_MASK',
      doc: 'pool_page, the first argument of pool.put and pool.get: the pool id in bits 11..0 (1..POOL_ID_MASK), the guest page frame of the 4 KiB page to copy in bits 31..12. The flushes and destroy take the bare pool id.',
      type: 'u32',
      value: 0xfff,
      kind: 'const',
    },
  ],
  enums: [
    {
      name: 'family',
      doc: 'Families of calls (bits 31..24 of a call word).',
      kind: 'enum',
      type: 'u8',
      values: [
        { name: 'core', value: 0x00, doc: 'Feature query and ABI version; every host serves it.' },
        { name: 'domain', value: 0x01, doc: 'Domains: list, create, destroy, pause, unpause, shut down, info.' },
        { name: 'lifecycle', value: 0x02, doc: 'The domain lifecycle feed: subscribe, read changes, unsubscribe.' },
        { name: 'stats', value: 0x03, doc: 'Statistics of domains.' },
        { name: 'pool', value: 0x04, doc: 'Page pools (tmem-style).' },
        { name: 'stream', value: 0x05, doc: 'Save, restore and migration streams.' },
        { name: 'experimental', value: 0xff, doc: 'Experiments; no stability promise.' },
      ],
    },
    {
      name: 'annotation',
      doc: 'Annotation bits (7..0 of a call word): hints a host may honour; unknown bits are ignored.',
      kind: 'flags',
      type: 'u8',
      values: [
        {
          name: 'may_queue',
          value: 0,
          doc: 'The caller allows the call to be deferred into a batch (only honoured by calls that say so in the feature query).',
        },
      ],
    },
    {
      name: 'status',
      doc: 'What a call answers: 0 = ok, negative = a defined error (its values are then all absent).',
      kind: 'enum',
      type: 's32',
      values: [
        { name: 'ok', value: 0, doc: 'The call was done.' },
        { name: 'unknown_family', value: -1, doc: 'The host serves no family with this number.' },
        { name: 'unknown_call', value: -2, doc: 'The family has no call with this number.' },
        { name: 'reserved_bits', value: -3, doc: 'Reserved bits (15..8) of the call word are not zero.' },
        { name: 'bad_argument', value: -4, doc: 'An argument is out of range or names nothing of the caller’s.' },
        { name: 'not_permitted', value: -5, doc: 'This kind of caller (guest or tool) may not make this call.' },
        { name: 'busy', value: -6, doc: 'The host cannot do it now (e.g. it is stopping); the caller may retry.' },
        { name: 'not_supported', value: -7, doc: 'The host knows the call but cannot do it in this configuration.' },
        { name: 'no_such_domain', value: -8, doc: 'No domain has this domid (or it was destroyed).' },
        { name: 'invalid_state', value: -9, doc: 'The domain is in a state that does not allow the call.' },
        { name: 'no_resources', value: -10, doc: 'The host ran out of something (domids, memory, handles).' },
        {
          name: 'internal_error',
          value: -11,
          doc: 'The host failed unexpectedly; the call may or may not have had an effect.',
        },
        {
          name: 'bad_frame',
          value: -12,
          doc: 'Control socket only: the request frame is malformed; the host closes the connection.',
        },
      ],
    },
    {
      name: 'core_call',
      doc: 'Calls of the core family.',
      kind: 'enum',
      type: 'u8',
      values: [
        {
          name: 'abi_version',
          value: 0x00,
          doc: 'No arguments. Values: [major, revision] of the call-word ABI the host was built from.',
        },
        {
          name: 'query_call',
          value: 0x01,
          doc: 'Args: [call word] (its annotation bits are ignored). Values: [query_flags, annotations the call honours]. An absent call answers ok with flags 0 — the defined "not supported" answer.',
        },
        {
          name: 'families',
          value: 0x02,
          doc: 'No arguments. Values: a 256-bit set of the families served, as 4 u64 (bit f of word f/64).',
        },
        {
          name: 'calls',
          value: 0x03,
          doc: 'Args: [family]. Values: a 256-bit set of the calls of that family, as 4 u64 (all zero for an absent family); family > 255 is bad_argument.',
        },
        {
          name: 'batch_register',
          value: 0x10,
          doc: 'Guests only. Args: [guest physical address of this vCPU’s call-batch buffer (schemas/call-batch), 0 = unregister]. Values: [capacity]. bad_argument for a header a flush would refuse.',
        },
        {
          name: 'batch_flush',
          value: 0x11,
          doc: 'Guests only. No arguments. Processes the registered buffer’s entries next..count-1 in order. Values: [entries processed by this flush, next, count]; next < count = stopped early, flush again.',
        },
      ],
    },
    {
      name: 'query_flags',
      doc: 'First value of core.query_call.',
      kind: 'flags',
      type: 'u64',
      values: [
        { name: 'supported', value: 0, doc: 'The host serves the call.' },
        { name: 'tool', value: 1, doc: 'Tools (the control socket) may make the call.' },
        { name: 'guest', value: 2, doc: 'Guests (hypercalls) may make the call.' },
      ],
    },
    {
      name: 'domain_call',
      doc: 'Calls of the domain family. A domain info is the values [domid, unique_id, generation, state, vcpus, memory_mib, workload, name bytes 0-7, name bytes 8-15] (name: UTF-8, little-endian, NUL-padded).',
      kind: 'enum',
      type: 'u8',
      values: [
        { name: 'count', value: 0x00, doc: 'No arguments. Values: [number of domains].' },
        {
          name: 'get',
          value: 0x01,
          doc: 'Args: [index] (0 ≤ index < count, domains in domid order). Values: a domain info; bad_argument past the end.',
        },
        {
          name: 'create',
          value: 0x02,
          doc: 'Tools only. Args: [vcpus, memory_mib, workload, create_flags, name bytes 0-7, name bytes 8-15] (name all zero = "dom<domid>"). Values: a domain info.',
        },
        { name: 'destroy', value: 0x03, doc: 'Tools only. Args: [domid]. Values: a domain info (state destroyed).' },
        { name: 'pause', value: 0x04, doc: 'Tools only. Args: [domid]. Values: a domain info.' },
        { name: 'unpause', value: 0x05, doc: 'Tools only. Args: [domid]. Values: a domain info.' },
        { name: 'shutdown', value: 0x06, doc: 'Tools only. Args: [domid]. Values: a domain info.' },
        { name: 'info', value: 0x07, doc: 'Args: [domid]. Values: a domain info.' },
      ],
    },
    {
      name: 'domain_state',
      doc: 'State of a domain (the values of the domain directory’s domain_state).',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'none', value: 0, doc: 'No domain (get_domain_state: no change to read).' },
        { name: 'running', value: 1, doc: 'The guest exists and runs.' },
        { name: 'paused', value: 2, doc: 'The guest exists; its vCPUs are stopped until unpaused.' },
        { name: 'shutdown', value: 3, doc: 'The guest stopped; the domain remains until destroyed.' },
        { name: 'dying', value: 4, doc: 'Destruction started.' },
        { name: 'destroyed', value: 5, doc: 'The domain is gone and its domid free.' },
      ],
    },
    {
      name: 'workload',
      doc: 'What a domain’s guest runs.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'compute', value: 0, doc: 'A compute loop.' },
        { name: 'io', value: 1, doc: 'Port I/O.' },
        { name: 'mixed', value: 2, doc: 'Both.' },
      ],
    },
    {
      name: 'create_flags',
      doc: 'Fourth argument of domain.create; unknown bits are bad_argument.',
      kind: 'flags',
      type: 'u64',
      values: [{ name: 'paused', value: 0, doc: 'Create with the vCPUs not started (state paused).' }],
    },
    {
      name: 'lifecycle_call',
      doc: 'Calls of the lifecycle family (DESIGN §3). A handle belongs to the connection (or guest) that subscribed and ends with it.',
      kind: 'enum',
      type: 'u8',
      values: [
        {
          name: 'subscribe',
          value: 0x00,
          doc: 'No arguments. Values: [handle] (never 0); every existing domain starts as changed.',
        },
        {
          name: 'get_domain_state',
          value: 0x01,
          doc: 'Args: [handle]. Values: [domid, state, unique_id, generation] of the lowest changed domid, clearing it; [0, none, 0, 0] when nothing changed.',
        },
        { name: 'unsubscribe', value: 0x02, doc: 'Args: [handle]. No values.' },
      ],
    },
    {
      name: 'pool_call',
      doc: 'Calls of the pool family (tmem-style page pools, DESIGN §5), laid out for 32-bit guests: every argument is a u32 (wider is bad_argument) and a call reads at most five (the argument registers of a hypercall, the args of a batch entry). A page is keyed by (pool, object id, index); an object id is u32 oid words, least significant first: 2 in pool ABI v0 (64-bit ids), 6 in v1 (192-bit ids). A v0 id X is the v1 id (X, 0, 0). The oid of the page calls: v0 passes its 2 words in registers (oid words); v1 passes the id by reference, as tmem v1 does: oid_gpa is the guest-physical address of the id’s 24 bytes in guest memory (the 6 words, little-endian), 8-byte aligned; the host copies the 24 bytes once, before it touches the page, and keys the call by that copy; it answers bad_argument for an unaligned oid_gpa, for 24 bytes not all inside guest memory and for a non-zero argument after oid_gpa. Guest calls act on the calling domain’s pools; tools get not_permitted for them.',
      kind: 'enum',
      type: 'u8',
      values: [
        {
          name: 'create',
          value: 0x00,
          doc: 'Guests only. Args: [pool_flags word]. Values: [pool id]. Reserved flag bits: bad_argument; an unknown version: not_supported; too many pools: no_resources.',
        },
        {
          name: 'put',
          value: 0x01,
          doc: 'Guests only; honours may_queue. Args: v0 [pool_page, index, oid word 0, oid word 1]; v1 [pool_page, index, oid_gpa]. Copies the page in; no values. A persistent pool without room answers no_resources and keeps what it had; an ephemeral one evicts its least recently used page.',
        },
        {
          name: 'get',
          value: 0x02,
          doc: 'Guests only. Args: v0 [pool_page, index, oid word 0, oid word 1]; v1 [pool_page, index, oid_gpa]. Values: [1 = hit, the page copied to the guest | 0 = miss, the guest page untouched].',
        },
        {
          name: 'flush_page',
          value: 0x03,
          doc: 'Guests only; honours may_queue. Args: v0 [pool id, index, oid word 0, oid word 1]; v1 [pool id, index, oid_gpa]. Values: [pages removed, 0 or 1].',
        },
        {
          name: 'flush_object',
          value: 0x04,
          doc: 'Guests only; honours may_queue. Args: v0 [pool id, oid word 0, oid word 1]; v1 [pool id, oid_gpa]. Values: [pages removed].',
        },
        {
          name: 'destroy',
          value: 0x05,
          doc: 'Guests only. Args: [pool id]. Values: [pages removed]; the id is free again.',
        },
        {
          name: 'stats',
          value: 0x06,
          doc: 'Tools only. Args: [domid, 0 = the whole host]. Values: [puts, gets, hits, misses, evictions, pages_held, flushes, refused, pools (domains with pools for domid 0)].',
        },
        {
          name: 'pool_info',
          value: 0x07,
          doc: 'Tools only. Args: [domid, position (0 ≤ position < pools, by pool id)]. Values: [pool id, pool_flags word, pages, slab bytes]; bad_argument past the end.',
        },
      ],
    },
    {
      name: 'stream_call',
      doc: 'Calls of the stream family (save, restore and migration streams; the stream versions are the revisions of schemas/stream). Tools only: file paths and socket addresses do not fit in u64 arguments, so the transfers themselves go over the host’s local stream socket (`hvkit ctl save | restore | migrate`), not through calls.',
      kind: 'enum',
      type: 'u8',
      values: [
        {
          name: 'versions',
          value: 0x01,
          doc: 'Tools only. No arguments. Values: [stream version the host writes, oldest stream version it reads].',
        },
        {
          name: 'socket',
          value: 0x02,
          doc: 'Tools only. No arguments. Values: [1 when the host’s local stream socket is listening, else 0].',
        },
      ],
    },
    {
      name: 'experimental_call',
      doc: 'Calls of the experimental family: side-effect-free calls that exercise the call paths (direct hypercalls, batches, the control socket) without touching any domain. Named here because a host serves them; the family still promises nothing about what its calls do. A running sum belongs to the caller’s session and vCPU and ends with the session.',
      kind: 'enum',
      type: 'u8',
      values: [
        {
          name: 'echo',
          value: 0x00,
          doc: 'Honours may_queue. Args: [a0, a1, a2, a3, a4]. Values: [a0, a1, a2, a3, a4].',
        },
        { name: 'add', value: 0x01, doc: 'Honours may_queue. Args: [a, b]. Values: [(a + b) mod 2^64].' },
        {
          name: 'accumulate',
          value: 0x02,
          doc: 'Honours may_queue. Args: [x]. Values: [the caller’s running sum after adding x, mod 2^64].',
        },
        { name: 'read_total', value: 0x03, doc: 'Never queued. No arguments. Values: [the caller’s running sum].' },
      ],
    },
    {
      name: 'pool_flags',
      doc: 'The create flags of pool.create (a u32 word): bit 0 persistent; bits 1..23 reserved (POOL_FLAGS_RESERVED_MASK, must be zero); bits 24..31 the pool ABI version (POOL_VERSION_MASK, a pool_version).',
      kind: 'flags',
      type: 'u32',
      values: [
        {
          name: 'persistent',
          value: 0,
          doc: 'A persistent pool never loses a page it acknowledged (a put without room is refused); without it the pool is ephemeral: bounded, it evicts.',
        },
      ],
    },
    {
      name: 'pool_version',
      doc: 'Pool ABI versions (bits 24..31 of the pool create flags).',
      kind: 'enum',
      type: 'u8',
      values: [
        { name: 'v0', value: 0, doc: '64-bit object ids: 2 oid words, passed in registers.' },
        {
          name: 'v1',
          value: 1,
          doc: '192-bit object ids: 6 oid words, passed by reference (oid_gpa: 24 little-endian bytes in guest memory, 8-byte aligned).',
        },
      ],
    },
  ],
  structs: [
    {
      name: 'request_header',
      doc: 'A control-socket request: this header, then nargs u64 arguments (little-endian).',
      sizing: 'fixed',
      fields: [
        magic('magic', 'u32', 'REQUEST_MAGIC', 'REQUEST_MAGIC; anything else closes the connection.'),
        int('length', 'u32', 'Bytes of the whole frame: sizeof(request_header) + 8 × nargs.'),
        int('word', 'u32', 'The call word.'),
        int('nargs', 'u32', 'Number of arguments that follow, at most MAX_ARGS.'),
      ],
    },
    {
      name: 'response_header',
      doc: 'A control-socket response: this header, then nvalues u64 values (little-endian).',
      sizing: 'fixed',
      fields: [
        magic('magic', 'u32', 'RESPONSE_MAGIC', 'RESPONSE_MAGIC.'),
        int('length', 'u32', 'Bytes of the whole frame: sizeof(response_header) + 8 × nvalues.'),
        int('status', 's32', 'The call’s status.', { enum: 'status' }),
        int('nvalues', 'u32', 'Number of values that follow, at most MAX_VALUES (0 unless status is ok).'),
      ],
    },
  ],
});
