/**
 * An example ABI that uses every feature of the schema language once, so that the
 * generators, the checker and the readers are exercised on all of it. It describes
 * nothing real: a made-up "widget" region and a made-up record stream.
 */
import { array, chars, counter, defineAbi, int, magic, nested, reserved, retired, seq } from '../../src/abi/schema.ts';

export default defineAbi({
  name: 'example',
  doc: 'A made-up widget region that exercises every feature of the schema language (hvkit itself does not use it).\n\nA region is one `header`: identity and layout words, four `port` descriptors and the `io` stats group. A stream of records (`note`, then `tail`) may follow it.',
  major: 1,
  constants: [
    { name: 'MAGIC', doc: 'First word of the region ("HVEX").', type: 'u32', value: 0x48564558, kind: 'magic' },
    {
      name: 'WIDE_MAGIC',
      doc: 'A 64-bit magic, for the tail record.',
      type: 'u64',
      value: 0x4856_4b49_545f_4558n,
      kind: 'magic',
    },
    { name: 'MAX_PORTS', doc: 'Most ports a widget may have.', type: 'u16', value: 4, kind: 'const' },
    {
      name: 'ALL_ONES',
      doc: 'An inactive counter holds this value.',
      type: 'u64',
      value: 2n ** 64n - 1n,
      kind: 'const',
    },
    { name: 'TEMP_MIN', doc: 'Lowest temperature, in degrees.', type: 's8', value: -128, kind: 'const' },
    { name: 'OFFSET_MIN', doc: 'Smallest clock offset.', type: 's32', value: -2147483648, kind: 'const' },
    { name: 'SKEW_MIN', doc: 'Smallest clock skew.', type: 's64', value: -(2n ** 63n), kind: 'const' },
    { name: 'SKEW_MAX', doc: 'Largest clock skew.', type: 's64', value: 2n ** 63n - 1n, kind: 'const' },
  ],
  enums: [
    {
      name: 'state',
      doc: 'Lifecycle state of a widget.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'off', value: 0, doc: 'Not running.' },
        { name: 'on', value: 1, doc: 'Running.' },
        { name: 'melted', value: 2, doc: 'No longer produced by any widget.', retired: true },
        { name: 'sleeping', value: 3, doc: 'Paused, state kept.' },
      ],
    },
    {
      name: 'trend',
      doc: 'Direction of the last change (a signed enum).',
      kind: 'enum',
      type: 's8',
      values: [
        { name: 'down', value: -1, doc: 'Went down.' },
        { name: 'flat', value: 0, doc: 'Did not change.' },
        { name: 'up', value: 1, doc: 'Went up.' },
      ],
    },
    {
      name: 'features',
      doc: 'Optional features of a widget.',
      kind: 'flags',
      type: 'u64',
      values: [
        { name: 'turbo', value: 0, doc: 'Runs faster.' },
        { name: 'legacy', value: 1, doc: 'Old feature, gone.', retired: true },
        { name: 'quiet', value: 5, doc: 'Runs quieter.' },
        { name: 'high', value: 63, doc: 'Uses the top bit.' },
      ],
    },
  ],
  structs: [
    {
      name: 'port',
      doc: 'One port of the widget: a fixed-size element of an array, so its size never changes.',
      sizing: 'fixed',
      fields: [
        chars('label', 12, 'Port label.'),
        int('speed', 'u16', 'Link speed in Mb/s.', { default: 100 }),
        int('trend', 's8', 'Direction of the last speed change.', { enum: 'trend' }),
        int('temp', 's8', 'Temperature in degrees.'),
        counter('rx_bytes', 'Bytes received.', { unit: 'bytes' }),
        reserved('spare', 8, 'Room for one more counter; must be zero.'),
      ],
    },
    {
      name: 'io_group',
      doc: 'I/O statistics of the widget: a stats group with its own sequence word, on its own cache lines.',
      sizing: 'fixed',
      align: 64,
      seqField: 'seq',
      fields: [
        seq('seq', 'u32', 'Odd while the producer updates this group.'),
        int('up', 'u32', 'Whether the link is up.', {
          stat: { type: 'instant', unit: 'boolean' },
        }),
        counter('ops', 'Operations completed.'),
        counter('busy_ns', 'Time spent busy.', { unit: 'seconds', exponent: -9 }),
        counter('queue_peak', 'Deepest queue seen.', { type: 'peak' }),
        counter('cycles', 'CPU cycles spent, in units of 2^10 cycles.', { unit: 'cycles', base: 'pow2', exponent: 10 }),
        array('latency_hist', 'u64', 8, 'Latency, linear buckets of 500 µs.', {
          stat: { type: 'linear-hist', unit: 'seconds', exponent: -6, bucketSize: 500 },
          inactiveWhenAllOnes: true,
        }),
        array('size_hist', 'u32', 16, 'Request sizes: bucket 0 counts 0, bucket i counts [2^(i-1), 2^i) bytes.', {
          stat: { type: 'log-hist', unit: 'bytes' },
        }),
      ],
    },
    {
      name: 'header',
      doc: 'The region header at offset 0. Versioned: `header_size` records how much the producer wrote.',
      sizing: 'versioned',
      sizeRound: 256,
      fields: [
        magic('magic', 'u32', 'MAGIC', 'Identifies the region.'),
        int('header_size', 'u32', 'Bytes of this header the producer wrote.'),
        int('state', 'u32', 'Current state.', { enum: 'state' }),
        int('nr_ports', 'u16', 'Ports in use, at most MAX_PORTS.'),
        int('ver', 'u8', 'Widget hardware version.', { renamedFrom: ['hw_rev'] }),
        retired('old_mode', 1, 'Operating mode; removed, its byte stays reserved.'),
        int('features', 'u64', 'Features the widget has.', { flags: 'features' }),
        int('active', 'u64', 'Groups the producer writes (bit per group).'),
        chars('name', 20, 'Widget name.'),
        retired('old_clock', 8, 'A 64-bit clock, removed; keeps its alignment.', 8),
        int('skew', 's64', 'Clock skew in ns.', { stat: { type: 'instant', unit: 'seconds', exponent: -9 } }),
        nested('ports', 'port', 'The ports, MAX_PORTS of them.', { length: 4 }),
        nested('io', 'io_group', 'I/O statistics.', { group: { bit: 0 } }),
      ],
    },
    {
      name: 'note_rec',
      doc: 'Payload of a note record.',
      sizing: 'versioned',
      fields: [int('level', 'u8', 'Severity.'), chars('text', 31, 'The note, NUL-padded.')],
    },
    {
      name: 'tail_rec',
      doc: 'Payload of the tail record that ends a stream.',
      sizing: 'fixed',
      fields: [
        magic('magic', 'u64', 'WIDE_MAGIC', 'Marks the end.'),
        int('records', 'u32', 'Records before this one.'),
      ],
    },
  ],
  records: [
    { name: 'note', doc: 'A free-form note; readers may skip it.', type: 1, mandatory: false, struct: 'note_rec' },
    { name: 'tail', doc: 'The end of the stream.', type: 2, mandatory: true, struct: 'tail_rec' },
    {
      name: 'old_note',
      doc: 'A note format no longer written.',
      type: 3,
      mandatory: false,
      struct: 'note_rec',
      retired: true,
    },
  ],
});
