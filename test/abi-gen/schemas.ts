/**
 * In-memory schemas for the generator tests: corner cases the real ABIs may not have,
 * and a fast-check arbitrary of random (valid) schemas.
 */
import fc from 'fast-check';
import {
  type AbiSpec,
  array,
  chars,
  counter,
  type FieldSpec,
  INT_TYPES,
  type IntType,
  int,
  intWidth,
  magic,
  nested,
  reserved,
  retired,
  type StructSpec,
  seq,
} from '../../src/abi/schema.ts';

/** Docs that try to break a C comment or a Markdown table. */
export const HOSTILE_DOC =
  'Ends a comment */ and opens one /* and /*/ too; trigraph ??/\nback\\\n| pipe | <b>html</b> & `code` \t tab \u0007 bell';

export const hostileDocs: AbiSpec = {
  name: 'gen-hostile',
  doc: HOSTILE_DOC,
  major: 2,
  constants: [{ name: 'K', doc: HOSTILE_DOC, type: 'u8', value: 255, kind: 'const' }],
  enums: [
    { name: 'e', doc: HOSTILE_DOC, kind: 'enum', type: 'u16', values: [{ name: 'a', value: 7, doc: HOSTILE_DOC }] },
  ],
  structs: [
    {
      name: 's',
      doc: `${HOSTILE_DOC}\n\nSecond paragraph */`,
      sizing: 'fixed',
      fields: [int('x', 'u32', HOSTILE_DOC, { enum: 'e' }), chars('c', 3, '*/')],
    },
  ],
  records: [{ name: 'r', doc: HOSTILE_DOC, type: 0xffffffff, mandatory: true, struct: 's' }],
};

/** Alignment corner cases: alignas needed from an explicit align, from an aligned tombstone, page rounding. */
export const alignment: AbiSpec = {
  name: 'gen-align',
  doc: 'Alignment corner cases.',
  major: 1,
  structs: [
    // Listed before the structs it contains: the header must still define those first.
    {
      name: 'outer',
      doc: 'Contains the others, arrays of them included.',
      sizing: 'versioned',
      sizeRound: 4096,
      fields: [
        int('a', 'u8', 'A byte.'),
        nested('bytes', 'bytes_only', 'Needs its own cache line.'),
        nested('tomb', 'tombstone_first', 'Two of them.', { length: 2 }),
        nested('g', 'grp', 'A group.', { group: { bit: 63 } }),
        nested('gs', 'grp', 'More groups.', { length: 3 }),
        int('tail', 's16', 'Last.'),
      ],
    },
    {
      name: 'bytes_only',
      doc: 'Only bytes, but aligned to a cache line.',
      sizing: 'fixed',
      align: 64,
      fields: [chars('c', 5, 'Five chars.'), reserved('r', 3)],
    },
    {
      name: 'tombstone_first',
      doc: 'A retired u64 keeps the struct 8-aligned.',
      sizing: 'fixed',
      fields: [retired('gone', 8, 'Was a u64.', 8), int('b', 'u8', 'A byte.')],
    },
    {
      name: 'grp',
      doc: 'A group with a u64 sequence word.',
      sizing: 'fixed',
      seqField: 'sq',
      fields: [seq('sq', 'u64', 'Sequence.'), counter('n', 'Count.')],
    },
  ],
};

/** The smallest ABI: one struct of one byte, nothing else. */
export const minimal: AbiSpec = {
  name: 'gen-minimal',
  doc: '',
  major: 1,
  structs: [{ name: 'one', doc: '', sizing: 'fixed', fields: [int('b', 'u8', '')] }],
};

/** Extreme constant and enum values of every type, and a magic field of every width. */
export const extremes: AbiSpec = {
  name: 'gen-extremes',
  doc: 'Extreme values.',
  major: 1,
  constants: INT_TYPES.flatMap((t) => {
    const bits = BigInt(intWidth(t) * 8);
    const [lo, hi] = t.startsWith('u') ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
    return [
      { name: `${t}_lo`, doc: 'Lowest.', type: t, value: lo, kind: 'const' as const },
      { name: `${t}_hi`, doc: 'Highest.', type: t, value: hi, kind: 'magic' as const },
    ];
  }),
  enums: [
    {
      name: 'big',
      doc: 'Enum values at the ends of an s32.',
      kind: 'enum',
      type: 's32',
      values: [
        { name: 'lo', value: -2147483648, doc: 'Lowest.' },
        { name: 'hi', value: 2147483647, doc: 'Highest.' },
      ],
    },
    {
      name: 'top',
      doc: 'The top bit of a u32 enum.',
      kind: 'enum',
      type: 'u32',
      values: [{ name: 'max', value: 4294967295, doc: 'All ones.' }],
    },
  ],
  structs: [
    {
      name: 'magics',
      doc: 'A magic of every width.',
      sizing: 'fixed',
      fields: INT_TYPES.map((t) => magic(`m_${t}`, t, `${t}_hi`, 'Magic.')),
    },
  ],
};

export const inMemorySchemas: AbiSpec[] = [hostileDocs, alignment, minimal, extremes];

// ---- random schemas ---------------------------------------------------------------------------

const intType = fc.constantFrom<IntType>(...INT_TYPES);

function fieldArb(i: number, earlier: string[]): fc.Arbitrary<FieldSpec> {
  const name = `f${i}`;
  const options: fc.Arbitrary<FieldSpec>[] = [
    intType.map((t) => int(name, t, `Field ${i}.`)),
    fc.tuple(intType, fc.integer({ min: 1, max: 5 })).map(([t, n]) => array(name, t, n, `Array ${i}.`)),
    fc.integer({ min: 1, max: 9 }).map((n) => chars(name, n, `Chars ${i}.`)),
    fc.integer({ min: 1, max: 9 }).map((n) => reserved(name, n)),
    fc
      .tuple(fc.integer({ min: 1, max: 16 }), fc.constantFrom(1, 2, 4, 8, 16))
      .map(([n, a]) => retired(name, n, `Retired ${i}.`, a)),
    fc.constantFrom<'u32' | 'u64'>('u32', 'u64').map((t) => seq(name, t, `Seq ${i}.`)),
  ];
  if (earlier.length) {
    options.push(
      fc
        .tuple(fc.constantFrom(...earlier), fc.integer({ min: 1, max: 3 }))
        .map(([s, n]) => nested(name, s, `Nested ${i}.`, n > 1 ? { length: n } : {})),
    );
  }
  return fc.oneof(...options);
}

function structArb(index: number): fc.Arbitrary<StructSpec> {
  const earlier = Array.from({ length: index }, (_, k) => `s${k}`);
  return fc
    .tuple(
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom(undefined, 1, 4, 16, 64),
      fc.constantFrom(undefined, 8, 128),
      fc.boolean(),
    )
    .chain(([n, align, sizeRound, versioned]) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => fieldArb(i, earlier))).map((fields) => ({
        name: `s${index}`,
        doc: `Struct ${index}.`,
        sizing: versioned ? ('versioned' as const) : ('fixed' as const),
        ...(align === undefined ? {} : { align }),
        ...(sizeRound === undefined ? {} : { sizeRound }),
        fields,
      })),
    );
}

const constArb = (i: number) =>
  intType.chain((t) => {
    const bits = BigInt(intWidth(t) * 8);
    const [lo, hi] = t.startsWith('u') ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
    return fc.bigInt({ min: lo, max: hi }).map((value) => ({
      name: `c${i}`,
      doc: `Constant ${i}.`,
      type: t,
      value,
      kind: 'const' as const,
    }));
  });

/** Random valid schemas named `rnd-<id>`: up to 4 structs (nesting earlier ones) and up to 4 constants. */
export function randomSchemaArb(id: number): fc.Arbitrary<AbiSpec> {
  return fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }))
    .chain(([ns, nc]) =>
      fc.tuple(
        fc.tuple(...Array.from({ length: ns }, (_, k) => structArb(k))),
        fc.tuple(...Array.from({ length: nc }, (_, k) => constArb(k))),
        fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 0, maxLength: 4 }),
      ),
    )
    .map(([structs, constants, bits]) => ({
      name: `rnd-${id}`,
      doc: `Random schema ${id}.`,
      major: 1,
      constants,
      enums: [
        {
          name: 'fl',
          doc: 'Random flags.',
          kind: 'flags' as const,
          type: 'u64' as const,
          values: bits.map((b) => ({ name: `b${b}`, value: b, doc: `Bit ${b}.` })),
        },
      ],
      structs,
    }));
}
