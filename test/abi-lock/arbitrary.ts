/** fast-check generators of valid AbiSpecs (and so, through the layout engine, of valid lock files). */
import fc from 'fast-check';
import { resolveAbi } from '../../src/abi/layout.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import {
  type AbiSpec,
  type ConstantSpec,
  type EnumSpec,
  type FieldSpec,
  INT_TYPES,
  type IntType,
  intWidth,
  type RecordSpec,
  type StructSpec,
} from '../../src/abi/schema.ts';

const intType = fc.constantFrom(...INT_TYPES);
const doc = fc.string({ maxLength: 24, unit: 'binary' });

function clamp(raw: bigint, type: IntType): bigint {
  const bits = BigInt(intWidth(type) * 8);
  const span = 1n << bits;
  const v = ((raw % span) + span) % span;
  return type.startsWith('s') && v >= span / 2n ? v - span : v;
}

const fieldSeed = fc.record({
  kind: fc.constantFrom('int', 'array', 'char', 'reserved', 'retired', 'magic', 'seq', 'struct'),
  type: intType,
  len: fc.integer({ min: 1, max: 6 }),
  pick: fc.nat(1000),
  def: fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
  stat: fc.nat(3),
  rename: fc.boolean(),
  group: fc.boolean(),
  doc,
});
type FieldSeed = typeof fieldSeed extends fc.Arbitrary<infer T> ? T : never;

const structSeed = fc.record({
  sizing: fc.constantFrom('fixed', 'versioned') as fc.Arbitrary<'fixed' | 'versioned'>,
  align: fc.constantFrom(undefined, 8, 64),
  sizeRound: fc.constantFrom(undefined, undefined, 64, 4096),
  wantsSeq: fc.boolean(),
  fields: fc.array(fieldSeed, { minLength: 1, maxLength: 8 }),
  doc,
});

const specSeed = fc.record({
  doc,
  major: fc.integer({ min: 1, max: 5 }),
  constants: fc.array(
    fc.record({ type: intType, raw: fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }), magic: fc.boolean(), doc }),
    { maxLength: 4 },
  ),
  enums: fc.array(
    fc.record({ flags: fc.boolean(), type: intType, values: fc.array(fc.nat(1 << 30), { maxLength: 6 }), doc }),
    { maxLength: 3 },
  ),
  structs: fc.array(structSeed, { minLength: 1, maxLength: 5 }),
  records: fc.array(fc.record({ type: fc.nat(0xffffffff), pick: fc.nat(100), mandatory: fc.boolean(), doc }), {
    maxLength: 3,
  }),
});

function buildField(
  j: number,
  seed: FieldSeed,
  constants: ConstantSpec[],
  enums: EnumSpec[],
  earlier: StructSpec[],
  usedBits: Set<number>,
): FieldSpec {
  const name = `f${j}`;
  const renamedFrom = seed.rename ? [`old_f${j}`] : undefined;
  const base = { name, doc: seed.doc, ...(renamedFrom ? { renamedFrom } : {}) };
  switch (seed.kind) {
    case 'array': {
      const stat =
        seed.len > 1 && seed.stat === 1
          ? { type: 'log-hist' as const, unit: 'seconds' as const, exponent: -9 }
          : seed.len > 1 && seed.stat === 2
            ? { type: 'linear-hist' as const, unit: 'bytes' as const, bucketSize: (seed.pick % 100) + 1 }
            : undefined;
      return { kind: 'array', type: seed.type, length: seed.len, ...base, ...(stat ? { stat } : {}) };
    }
    case 'char':
      return { kind: 'char', length: seed.len, ...base };
    case 'reserved':
      return { kind: 'reserved', name, size: seed.len, doc: seed.doc };
    case 'retired':
      return { kind: 'retired', name, size: seed.len, align: 1 << (seed.pick % 4), doc: seed.doc };
    case 'seq':
      return { kind: 'seq', type: seed.pick % 2 ? 'u32' : 'u64', ...base };
    case 'magic': {
      const c = constants[seed.pick % Math.max(1, constants.length)];
      if (c) return { kind: 'magic', type: seed.type, constant: c.name, ...base };
      break;
    }
    case 'struct': {
      const target = earlier[seed.pick % Math.max(1, earlier.length)];
      if (!target) break;
      const bit = seed.pick % 64;
      const group = seed.group && target.seqField !== undefined && !usedBits.has(bit) ? { bit } : undefined;
      if (group) usedBits.add(bit);
      const length = seed.len % 3 === 0 ? seed.len : undefined;
      return {
        kind: 'struct',
        struct: target.name,
        ...base,
        ...(length ? { length } : {}),
        ...(group ? { group } : {}),
      };
    }
  }
  const enumOf = (kind: 'enum' | 'flags') => enums.find((e) => e.kind === kind)?.name;
  const annotation =
    seed.pick % 3 === 1 && enumOf('enum')
      ? { enum: enumOf('enum') }
      : seed.pick % 3 === 2 && enumOf('flags')
        ? { flags: enumOf('flags') }
        : {};
  const stat = seed.stat === 1 ? { stat: { type: 'cumulative' as const, unit: 'none' as const } } : {};
  return {
    kind: 'int',
    type: seed.type,
    default: clamp(seed.def, seed.type),
    ...(seed.stat === 2 ? { inactiveWhenAllOnes: true } : {}),
    ...annotation,
    ...stat,
    ...base,
  };
}

function buildSpec(seed: typeof specSeed extends fc.Arbitrary<infer T> ? T : never): AbiSpec {
  const constants: ConstantSpec[] = seed.constants.map((c, i) => ({
    name: `C${i}`,
    doc: c.doc,
    type: c.type,
    value: clamp(c.raw, c.type),
    kind: c.magic ? 'magic' : 'const',
  }));
  const enums: EnumSpec[] = seed.enums.map((e, i) => {
    const bits = intWidth(e.type) * 8;
    const limit = Math.min(2 ** (bits - 1), 2 ** 30);
    const numbers = [...new Set(e.values.map((v) => (e.flags ? v % bits : v % limit)))];
    return {
      name: `E${i}`,
      doc: e.doc,
      kind: e.flags ? 'flags' : 'enum',
      type: e.type,
      values: numbers.map((value, k) => ({ name: `V${k}`, value, doc: e.doc, retired: k % 3 === 2 })),
    };
  });
  const structs: StructSpec[] = [];
  seed.structs.forEach((s, i) => {
    const usedBits = new Set<number>();
    const fields = s.fields.map((f, j) => buildField(j, f, constants, enums, structs, usedBits));
    const seqName = s.wantsSeq ? fields.find((f) => f.kind === 'seq')?.name : undefined;
    structs.push({
      name: `S${i}`,
      doc: s.doc,
      sizing: s.sizing,
      ...(s.align ? { align: s.align } : {}),
      ...(s.sizeRound ? { sizeRound: s.sizeRound } : {}),
      ...(seqName ? { seqField: seqName } : {}),
      fields,
    });
  });
  const types = [...new Set(seed.records.map((r) => r.type))];
  const records: RecordSpec[] = types.map((type, k) => {
    const r = seed.records.find((x) => x.type === type)!;
    return {
      name: `R${k}`,
      doc: r.doc,
      type,
      mandatory: r.mandatory,
      struct: `S${r.pick % structs.length}`,
      retired: k === 2,
    };
  });
  return { name: 'random-abi', doc: seed.doc, major: seed.major, constants, enums, structs, records };
}

/** A valid resolved ABI, frozen as a revision in 1..50. */
export const resolvedAbi: fc.Arbitrary<ResolvedAbi> = fc
  .tuple(specSeed, fc.integer({ min: 1, max: 50 }))
  .map(([seed, revision]) => resolveAbi(buildSpec(seed), revision));
