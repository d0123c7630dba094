import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CACHE_LINE, defaultPacking, PAGE_SIZE, resolveAbi } from '../../src/abi/layout.ts';
import {
  type AbiSpec,
  array,
  counter,
  int,
  magic,
  nested,
  reserved,
  type StructSpec,
  seq,
} from '../../src/abi/schema.ts';
import { FormatError } from '../../src/errors.ts';

function abiOf(structs: StructSpec[], extra: Partial<AbiSpec> = {}): AbiSpec {
  return { name: 'layout-test', doc: 'test', major: 1, structs, ...extra };
}

function shape(spec: AbiSpec, name: string) {
  const s = resolveAbi(spec).structs.find((x) => x.name === name);
  assert.ok(s);
  return { size: s.size, align: s.align, fields: s.fields.map((f) => `${f.name}@${f.offset}+${f.size}`) };
}

function rejects(spec: AbiSpec, field: string, rule: string) {
  assert.throws(
    () => resolveAbi(spec),
    (e: unknown) => e instanceof FormatError && e.field === field && e.rule === rule,
  );
}

describe('layout engine', () => {
  it('aligns fields naturally and makes every padding byte explicit', () => {
    const spec = abiOf([
      { name: 's', doc: '', sizing: 'fixed', fields: [int('a', 'u8', ''), int('b', 'u64', ''), int('c', 'u16', '')] },
    ]);
    assert.deepEqual(shape(spec, 's'), {
      size: 24,
      align: 8,
      fields: ['a@0+1', '_pad0@1+7', 'b@8+8', 'c@16+2', '_pad1@18+6'],
    });
  });

  it('honours struct alignment, size rounding, arrays and nested structs', () => {
    const spec = abiOf(
      [
        {
          name: 'grp',
          doc: '',
          sizing: 'versioned',
          align: CACHE_LINE,
          seqField: 'seq',
          fields: [seq('seq', 'u32', ''), counter('n', ''), array('h', 'u64', 4, '')],
        },
        {
          name: 'top',
          doc: '',
          sizing: 'versioned',
          sizeRound: PAGE_SIZE,
          fields: [
            magic('magic', 'u32', 'M', ''),
            reserved('r', 3),
            nested('g', 'grp', '', { group: { bit: 0 } }),
            nested('many', 'grp', '', { length: 2 }),
          ],
        },
      ],
      { constants: [{ name: 'M', doc: '', type: 'u32', value: 0xfeed, kind: 'magic' }] },
    );
    assert.deepEqual(shape(spec, 'grp'), {
      size: 64,
      align: 64,
      fields: ['seq@0+4', '_pad0@4+4', 'n@8+8', 'h@16+32', '_pad1@48+16'],
    });
    assert.deepEqual(shape(spec, 'top'), {
      size: 4096,
      align: 64,
      fields: ['magic@0+4', 'r@4+3', '_pad0@7+57', 'g@64+64', 'many@128+128', '_pad1@256+3840'],
    });
  });

  it('keeps 64-bit constants exact', () => {
    const spec = abiOf([{ name: 's', doc: '', sizing: 'fixed', fields: [int('a', 'u64', '')] }], {
      constants: [{ name: 'BIG', doc: '', type: 'u64', value: 0xffff_ffff_ffff_fff1n, kind: 'const' }],
    });
    assert.equal(resolveAbi(spec).constants[0]?.value, '18446744073709551601');
  });

  it('rejects invalid schemas with the field and the rule', () => {
    const one = (fields: StructSpec['fields'], extra: Partial<StructSpec> = {}) =>
      abiOf([{ name: 's', doc: '', sizing: 'fixed', fields, ...extra }]);
    rejects(one([int('a', 'u8', ''), int('a', 'u8', '')]), 'struct s', 'duplicate-name');
    rejects(one([int('1a', 'u8', '')]), 's.1a', 'identifier');
    rejects(one([nested('x', 'nope', '')]), 's.x', 'unknown-struct');
    rejects(one([nested('x', 's', '')]), 'struct s', 'recursive-struct');
    rejects(one([array('h', 'u64', 0, '')]), 's.h', 'length');
    rejects(one([int('x', 'u8', '', { default: 256 })]), 's.x', 'value-out-of-range');
    rejects(one([int('x', 'u64', '', { stat: { type: 'log-hist', unit: 'none' } })]), 's.x', 'stat-shape');
    rejects(
      one([array('x', 'u64', 4, '', { stat: { type: 'linear-hist', unit: 'none' } })]),
      's.x',
      'stat-bucket-size',
    );
    rejects(one([magic('m', 'u32', 'NOPE', '')]), 's.m', 'unknown-constant');
    rejects(one([int('a', 'u8', '')], { seqField: 'a' }), 'struct s', 'seq-field');
    rejects(one([int('a', 'u8', '')], { align: 48 }), 'struct s', 'align');
    rejects(
      abiOf([
        { name: 'g', doc: '', sizing: 'fixed', fields: [int('a', 'u8', '')] },
        { name: 's', doc: '', sizing: 'fixed', fields: [nested('x', 'g', '', { group: { bit: 1 } })] },
      ]),
      's.x',
      'group-seq',
    );
  });

  it('default packing satisfies the region invariants for any sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 3 * PAGE_SIZE }),
        fc.integer({ min: 8, max: 3 * PAGE_SIZE }),
        fc.integer({ min: 0, max: 512 }),
        (dom, vcpu, nr) => {
          const p = defaultPacking(dom, vcpu, nr);
          assert.ok(p.vcpuOffset >= dom, 'vcpu_offs >= dom_size');
          assert.ok(p.vcpuStride >= vcpu, 'vcpu_stride >= vcpu_size');
          assert.equal(p.regionSize % PAGE_SIZE, 0, 'region is whole pages');
          assert.ok(p.regionSize >= p.vcpuOffset + nr * p.vcpuStride);
          const unit = dom > PAGE_SIZE / 2 || vcpu > PAGE_SIZE / 2 ? PAGE_SIZE : CACHE_LINE;
          assert.equal(p.vcpuOffset % unit, 0);
          assert.equal(p.vcpuStride % unit, 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
