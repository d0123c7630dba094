/**
 * The call-batch ABI (DESIGN §4, the "deferred completion" of seeds/vmi-call-ids.txt): a fixed
 * per-vCPU buffer in guest memory where a guest queues calls annotated "may be queued" and hands
 * them to the host with one hypercall instead of one VM exit per call.
 *
 * Layout at the buffer's guest physical address: the `header`, then `capacity` entries of
 * sizeof(entry) bytes each. The guest owns `capacity`, `count`, `flags` and every entry's word and
 * arguments; the host writes only each processed entry's status and result, and `next`.
 *
 * Protocol: the guest registers the buffer once per vCPU (core call BATCH_REGISTER_CALL, arg0 =
 * guest physical address; 0 unregisters), sets count = 0 and next = 0, fills entries 0..count-1
 * with status = STATUS_PENDING, then flushes (core call BATCH_FLUSH_CALL). The host copies the
 * header, refuses it as a whole with status bad_argument when the magic, the capacity (1..
 * MAX_CAPACITY, buffer inside guest memory), count (≤ capacity), next (≤ count) or flags (unknown
 * bits) are wrong, then processes entries next..count-1 in order — copying each entry before it
 * looks at it — writes each one's status and result, and stores where it stopped in `next`. It may
 * stop early (a per-flush budget): the flush then answers next < count and the guest flushes
 * again to continue — a batch is restartable. The flush answers status ok and the values
 * [entries processed by this flush, next, count]. An entry whose word lacks the may_queue
 * annotation, names a call that does not honour it, or is itself a batch call gets status
 * not_permitted and is not made.
 */
import { array, defineAbi, int, magic, reserved } from '../../src/abi/schema.ts';

export default defineAbi({
  name: 'call-batch',
  doc: 'Batched calls: a per-vCPU buffer in guest memory of queued call entries {call word, status, result, arguments}, flushed to the host with one hypercall, processed in order and restartable.',
  major: 1,
  constants: [
    { name: 'MAGIC', doc: 'First word of a batch buffer ("HVCB").', type: 'u32', value: 0x48564342, kind: 'magic' },
    {
      name: 'MAX_CAPACITY',
      doc: 'Most entries a buffer may have; a header with a larger capacity is refused (bad_argument).',
      type: 'u32',
      value: 256,
      kind: 'const',
    },
    {
      name: 'NR_ARGS',
      doc: 'Arguments of an entry (a batched call takes at most this many).',
      type: 'u32',
      value: 5,
      kind: 'const',
    },
    {
      name: 'STATUS_PENDING',
      doc: 'Status a guest writes into an entry it queues: positive, so never a call status (0 or negative).',
      type: 's32',
      value: 1,
      kind: 'const',
    },
    {
      name: 'BATCH_REGISTER_CALL',
      doc: 'Call number in the core family (0x00): register this vCPU’s buffer. Guests only. Args: [guest physical address, 0 = unregister]. Values: [capacity]. bad_argument for a header the flush would refuse.',
      type: 'u8',
      value: 0x10,
      kind: 'const',
    },
    {
      name: 'BATCH_FLUSH_CALL',
      doc: 'Call number in the core family (0x00): process the registered buffer from next. Guests only. No arguments. Values: [processed, next, count]; invalid_state without a registered buffer.',
      type: 'u8',
      value: 0x11,
      kind: 'const',
    },
  ],
  enums: [
    {
      name: 'batch_flags',
      doc: 'The header’s flags; a flush refuses unknown bits (bad_argument).',
      kind: 'flags',
      type: 'u32',
      values: [
        {
          name: 'stop_on_error',
          value: 0,
          doc: 'Stop after the first entry whose status is not ok (next = its index + 1).',
        },
      ],
    },
  ],
  structs: [
    {
      name: 'header',
      doc: 'At the buffer’s address; the entries follow it.',
      sizing: 'fixed',
      fields: [
        magic('magic', 'u32', 'MAGIC', 'MAGIC; anything else is refused.'),
        int('capacity', 'u32', 'Entries the buffer holds: 1..MAX_CAPACITY, header and entries inside guest memory.'),
        int('count', 'u32', 'Entries queued (0..capacity), written by the guest.'),
        int(
          'next',
          'u32',
          'First entry not yet processed (0..count): the guest resets it to 0 with count, the host advances it.',
        ),
        int('flags', 'u32', 'Batch flags.', { flags: 'batch_flags' }),
        reserved('reserved', 12),
      ],
    },
    {
      name: 'entry',
      doc: 'One queued call (64 bytes, a cache line).',
      sizing: 'fixed',
      fields: [
        int('word', 'u32', 'The call word; it must carry the may_queue annotation.'),
        int('status', 's32', 'STATUS_PENDING until processed, then the call’s status (call-word ABI).'),
        int('result', 'u64', 'The call’s first value (0 when it answers none or fails).'),
        array('args', 'u64', 5, 'The call’s arguments (missing ones zero).'),
        reserved('reserved', 8),
      ],
    },
  ],
});
