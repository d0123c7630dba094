/** Every refused change: a before/after pair asserting the exact violations. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMPAT_RULES, checkCompat, formatCompatViolation } from '../../src/abi/compat.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import type { ArrayFieldSpec, IntFieldSpec, StructFieldSpec } from '../../src/abi/schema.ts';
import { array, chars, int, magic, nested, reserved, retired } from '../../src/abi/schema.ts';
import { assertErrors, baseSpec, compare, field, freezeAll, keysOf, mutated, replaceField, struct } from './fixture.ts';

const R = COMPAT_RULES;

describe('field-moved', () => {
  test('reordering fields moves both', () => {
    const report = compare((s) => struct(s, 'body').fields.reverse());
    // label moves from 8 to 0 as well: all three are reported.
    assertErrors(report, [
      'rev 1: body.a: field-moved',
      'rev 1: body.b: field-moved',
      'rev 1: body.label: field-moved',
    ]);
  });
  test('inserting a field before others', () => {
    const report = compare((s) => struct(s, 'slot').fields.unshift(int('first', 'u32', 'New.')));
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: slot.id: field-moved'));
    assert.ok(keys.includes('rev 1: slot.val: field-moved'));
  });
  test('resizing an earlier field moves the later ones', () => {
    const report = compare((s) => {
      (field(s, 'body', 'a') as IntFieldSpec).type = 'u64';
    });
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: body.a: type-changed'));
    assert.ok(keys.includes('rev 1: body.b: field-moved'));
    assert.ok(keys.includes('rev 1: body.label: field-moved'));
  });
  test('a nested struct that grows moves the parent’s later fields; the change is not reported on the nested struct', () => {
    const report = compare((s) => struct(s, 'stats').fields.push(int('more', 'u64', 'Appended.')));
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: table.slots: field-moved'));
    assert.ok(keys.includes('rev 1: table.tail: field-moved'));
    assert.ok(!keys.some((k) => k.includes(' stats.')));
  });
});

describe('type-changed', () => {
  test('signedness', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'stats', 'count') as IntFieldSpec).type = 's32';
      }),
      ['rev 1: stats.count: type-changed'],
    );
  });
  test('width (alignment keeps the next field in place)', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'hdr', 'weight') as IntFieldSpec).type = 'u16';
      }),
      ['rev 1: hdr.weight: type-changed'],
    );
  });
  test('array length', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'stats', 'lat') as ArrayFieldSpec).length = 3;
        replaceField(s, 'stats', 'spare', reserved('spare', 24));
      }),
      ['rev 1: stats.lat: type-changed'],
    );
  });
  test('kind: int becomes an array of the same size', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'a', array('a', 'u16', 2, 'A.'))),
      ['rev 1: body.a: type-changed'],
    );
  });
  test('nested struct name', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'table', 'slots') as StructFieldSpec).struct = 'ring';
      }),
      ['rev 1: table.slots: type-changed'],
    );
  });
  test('char length', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'label', chars('label', 4, 'Label.'), reserved('rsv', 4))),
      ['rev 1: body.label: type-changed'],
    );
  });
  test('enum annotation', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'hdr', 'kind') as IntFieldSpec).enum = undefined;
      }),
      ['rev 1: hdr.kind: type-changed'],
    );
  });
  test('a change inside a nested struct is reported on that struct', () => {
    const report = compare((s) => {
      (field(s, 'hdr', 'version') as IntFieldSpec).type = 's16';
    });
    assertErrors(report, ['rev 1: hdr.version: type-changed']);
  });
});

describe('field-removed and retired-reused', () => {
  test('a field replaced by reserved bytes', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'b', reserved('b_free', 4))),
      ['rev 1: body.b: field-removed'],
    );
  });
  test('a field gone from the tail (also shrinks the struct)', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'label')),
      ['rev 1: body.label: field-removed', 'rev 1: body.: struct-shrunk'],
    );
  });
  test('a tombstone that does not cover exactly the field’s bytes', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'b', retired('b_old', 2, 'Was B.'), reserved('x', 2))),
      ['rev 1: body.b: field-removed'],
    );
  });
  test('a removed tombstone', () => {
    assertErrors(
      compare((s) => replaceField(s, 'hdr', 'old', reserved('free', 4))),
      ['rev 1: hdr.old: field-removed'],
    );
  });
  test('a new field occupying a tombstone’s bytes', () => {
    assertErrors(
      compare((s) => replaceField(s, 'hdr', 'old', int('reuse', 'u32', 'Reused.'))),
      ['rev 1: hdr.reuse: retired-reused'],
    );
  });
  test('a new field taking a tombstone’s name', () => {
    assertErrors(
      compare((s) => {
        replaceField(s, 'hdr', 'old', retired('old_counter', 4, 'Was a counter.', 4));
        replaceField(s, 'hdr', 'rsv', int('old', 'u32', 'Carved.'), reserved('rsv', 4));
      }),
      ['rev 1: hdr.old: retired-reused'],
    );
  });
  test('a field retired and its name reused in the same revision', () => {
    const report = compare((s) => {
      replaceField(s, 'body', 'b', retired('b_old', 4, 'Was B.', 4));
      struct(s, 'body').fields.push(int('b', 'u32', 'New B.'));
    });
    // Retiring b rewrites body while it grows: both are reported, and b is a reuse, not a move.
    assertErrors(report, ['rev 1: body.b: retired-reused', 'rev 1: body.: grow-and-rewrite']);
  });
  test('a new field taking the name of a field an earlier revision removed', () => {
    const rev1 = baseSpec();
    const rev2 = mutated((s) => replaceField(s, 'body', 'b', retired('b_old', 4, 'Was B.', 4)), rev1);
    const current = mutated((s) => struct(s, 'body').fields.push(int('b', 'u32', 'New B.')), rev2);
    const report = checkCompat(resolveAbi(current, 0), freezeAll(rev1, rev2));
    // Against rev 1 as well: a tombstone covers b's old bytes, so the name is reused, not moved.
    assertErrors(report, ['rev 1: body.b: retired-reused', 'rev 2: body.b: retired-reused']);
  });
});

describe('size-changed and struct-shrunk', () => {
  test('a fixed struct grows', () => {
    assertErrors(
      compare((s) => struct(s, 'hdr').fields.push(int('more', 'u32', 'More.'))),
      // The parent's padding absorbs the growth: table.stats stays at 32.
      ['rev 1: hdr.: size-changed'],
    );
  });
  test('a versioned struct used as an array element grows', () => {
    const keys = keysOf(compare((s) => struct(s, 'slot').fields.push(int('more', 'u32', 'More.'))));
    assert.ok(keys.includes('rev 1: slot.: size-changed'));
    assert.ok(keys.includes('rev 1: table.tail: field-moved'));
  });
  test('a versioned struct shrinks', () => {
    assertErrors(
      compare((s) => replaceField(s, 'ring', 'pos')),
      ['rev 1: ring.: struct-shrunk', 'rev 1: ring.pos: field-removed'],
    );
  });
  test('sizing policy changes', () => {
    assertErrors(
      compare((s) => {
        struct(s, 'body').sizing = 'fixed';
      }),
      ['rev 1: body.: sizing-changed'],
    );
  });
  test('a struct disappears', () => {
    assertErrors(
      compare((s) => {
        s.structs = s.structs.filter((x) => x.name !== 'ring');
      }),
      ['rev 1: ring.: struct-removed'],
    );
  });
});

describe('defaults', () => {
  test('default-changed', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'hdr', 'weight') as IntFieldSpec).default = 8;
      }),
      ['rev 1: hdr.weight: default-changed'],
    );
  });
  test('new-field-nonzero-default: appended', () => {
    assertErrors(
      compare((s) => struct(s, 'body').fields.push(int('c', 'u32', 'C.', { default: 1 }))),
      ['rev 1: body.c: new-field-nonzero-default'],
    );
  });
  test('new-field-nonzero-default: carved', () => {
    assertErrors(
      compare((s) =>
        replaceField(s, 'stats', 'spare', int('mode', 'u32', 'Mode.', { default: 2 }), reserved('spare', 12)),
      ),
      ['rev 1: stats.mode: new-field-nonzero-default'],
    );
  });
  test('new-field-nonzero-default: a magic carved from reserved bytes (older producers left them zero)', () => {
    assertErrors(
      compare((s) =>
        replaceField(s, 'hdr', 'rsv', magic('magic2', 'u32', 'MAGIC', 'Second magic.'), reserved('rsv', 4)),
      ),
      ['rev 1: hdr.magic2: new-field-nonzero-default'],
    );
  });
  test('new-field-nonzero-default: a magic appended to a versioned struct', () => {
    assertErrors(
      compare((s) => struct(s, 'body').fields.push(magic('magic', 'u32', 'MAGIC', 'Marks the end.'))),
      ['rev 1: body.magic: new-field-nonzero-default'],
    );
  });
  test('new-field-nonzero-default: inside a new nested struct', () => {
    const report = compare((s) => {
      s.structs.push({
        name: 'ext',
        doc: 'Ext.',
        sizing: 'versioned',
        fields: [int('k', 'u32', 'K.', { default: 3 })],
      });
      struct(s, 'body').fields.push(nested('ext', 'ext', 'Extension.'));
    });
    assertErrors(report, ['rev 1: body.ext: new-field-nonzero-default']);
  });
});

describe('enums and flags', () => {
  const values = (s: ReturnType<typeof baseSpec>, name: string) => {
    const e = s.enums?.find((x) => x.name === name);
    assert.ok(e);
    return e.values;
  };
  test('enum-renumbered', () => {
    assertErrors(
      compare((s) => {
        values(s, 'state')[1]!.value = 3;
      }),
      ['rev 1: enum state.RUNNING: enum-renumbered'],
    );
  });
  test('enum-value-reused: a retired value given to a new name', () => {
    assertErrors(
      compare((s) => {
        values(s, 'state').splice(2, 1, { name: 'NEW', value: 2, doc: 'New.' });
        values(s, 'state').push({ name: 'GONE', value: 9, doc: 'Moved away.', retired: true });
      }),
      ['rev 1: enum state.NEW: enum-value-reused', 'rev 1: enum state.GONE: enum-renumbered'],
    );
  });
  test('enum-value-reused: another name’s value', () => {
    assertErrors(
      compare((s) => {
        values(s, 'state')[1]!.value = 5;
        values(s, 'state').push({ name: 'HALTED', value: 1, doc: 'Takes RUNNING’s value.' });
      }),
      ['rev 1: enum state.RUNNING: enum-renumbered', 'rev 1: enum state.HALTED: enum-value-reused'],
    );
  });
  test('enum-value-reused: a retired value revived', () => {
    assertErrors(
      compare((s) => {
        values(s, 'state')[2]!.retired = false;
      }),
      ['rev 1: enum state.GONE: enum-value-reused'],
    );
  });
  test('enum-value-removed', () => {
    assertErrors(
      compare((s) => {
        values(s, 'state').splice(1, 1);
      }),
      ['rev 1: enum state.RUNNING: enum-value-removed'],
    );
  });
  test('flags-bit-renumbered, flags-bit-reused, flags-bit-removed', () => {
    assertErrors(
      compare((s) => {
        values(s, 'caps')[0]!.value = 2;
      }),
      ['rev 1: flags caps.FAST: flags-bit-renumbered'],
    );
    assertErrors(
      compare((s) => {
        values(s, 'caps').splice(2, 1, { name: 'NEWBIT', value: 4, doc: 'Reuses OLD.' });
      }),
      ['rev 1: flags caps.NEWBIT: flags-bit-reused', 'rev 1: flags caps.OLD: flags-bit-removed'],
    );
    assertErrors(
      compare((s) => {
        values(s, 'caps').splice(1, 1);
      }),
      ['rev 1: flags caps.WIDE: flags-bit-removed'],
    );
  });
  test('enum-type-changed and enum-removed', () => {
    assertErrors(
      compare((s) => {
        s.enums![1]!.type = 'u64';
      }),
      ['rev 1: flags caps.: enum-type-changed'],
    );
    assertErrors(
      compare((s) => {
        s.enums!.splice(1, 1);
        (field(s, 'hdr', 'flags') as IntFieldSpec).flags = undefined;
      }),
      ['rev 1: flags caps.: enum-removed', 'rev 1: hdr.flags: type-changed'],
    );
  });
});

describe('group bits', () => {
  test('group-bit-changed', () => {
    assertErrors(
      compare((s) => {
        (field(s, 'table', 'stats') as StructFieldSpec).group = { bit: 1 };
      }),
      ['rev 1: table.stats: group-bit-changed'],
    );
  });
  test('group-bit-reused by a new group after the old one was retired', () => {
    const report = compare((s) => {
      replaceField(s, 'table', 'stats', retired('stats_old', 64, 'Retired group.', 8));
      struct(s, 'table').fields.push(nested('stats2', 'stats', 'New group.', { group: { bit: 0 } }));
    });
    // Tombstoning a field and appending in the same revision is also a grow-and-rewrite.
    assertErrors(report, ['rev 1: table.stats2: group-bit-reused', 'rev 1: table.: grow-and-rewrite']);
  });
});

describe('records', () => {
  const records = (s: ReturnType<typeof baseSpec>) => s.records!;
  test('record-type-changed', () => {
    assertErrors(
      compare((s) => {
        records(s)[0]!.type = 3;
      }),
      ['rev 1: records.start: record-type-changed'],
    );
  });
  test('record-type-reused: a retired type', () => {
    assertErrors(
      compare((s) => {
        records(s).push({ name: 'again', doc: 'Again.', type: 2, mandatory: false, struct: 'body' });
        records(s)[2]!.type = 77;
      }),
      ['rev 1: records.again: record-type-reused', 'rev 1: records.gone: record-type-changed'],
    );
  });
  test('record-type-reused: a retired record revived', () => {
    assertErrors(
      compare((s) => {
        records(s)[2]!.retired = false;
      }),
      ['rev 1: records.gone: record-type-reused'],
    );
  });
  test('record-mandatory-changed', () => {
    assertErrors(
      compare((s) => {
        records(s)[1]!.mandatory = true;
      }),
      ['rev 1: records.extra: record-mandatory-changed'],
    );
  });
  test('record-removed and record-struct-changed', () => {
    assertErrors(
      compare((s) => {
        records(s).splice(1, 1);
      }),
      ['rev 1: records.extra: record-removed'],
    );
    assertErrors(
      compare((s) => {
        records(s)[0]!.struct = 'ring';
      }),
      ['rev 1: records.start: record-struct-changed'],
    );
  });
});

describe('constants, magics and identity', () => {
  test('const-changed and const-removed', () => {
    assertErrors(
      compare((s) => {
        s.constants![1]!.value = 32;
      }),
      ['rev 1: constants.LIMIT: const-changed'],
    );
    assertErrors(
      compare((s) => {
        s.constants!.splice(1, 1);
      }),
      ['rev 1: constants.LIMIT: const-removed'],
    );
  });
  test('magic-changed without a major bump', () => {
    assertErrors(
      compare((s) => {
        s.constants![0]!.value = 0x48564b55;
      }),
      ['rev 1: constants.MAGIC: magic-changed'],
    );
  });
  test('magic field pointed at another constant', () => {
    assertErrors(
      compare((s) => {
        s.constants!.push({ name: 'MAGIC2', doc: 'Other.', type: 'u32', value: 1, kind: 'magic' });
        (field(s, 'hdr', 'magic') as { constant: string }).constant = 'MAGIC2';
      }),
      ['rev 1: hdr.magic: magic-changed'],
    );
  });
  test('identity-changed', () => {
    assertErrors(
      compare((s) => {
        s.name = 'other';
      }),
      ['rev 1: abi.name: identity-changed'],
    );
  });
  test('major-lowered', () => {
    const frozen = freezeAll(mutated((s) => (s.major = 2)));
    const report = checkCompat(resolveAbi(baseSpec(), 0), frozen);
    assertErrors(report, ['rev 1: abi.major: major-lowered']);
  });
});

describe('stat-changed', () => {
  test('unit, exponent, type, base, inactive marking', () => {
    const hits = (s: ReturnType<typeof baseSpec>) => field(s, 'stats', 'hits') as IntFieldSpec;
    for (const change of [
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).stat!.unit = 'cycles';
      },
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).stat!.exponent = -9;
      },
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).stat!.type = 'peak';
      },
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).stat!.base = 'pow2';
      },
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).inactiveWhenAllOnes = false;
      },
      (s: ReturnType<typeof baseSpec>) => {
        hits(s).stat = undefined;
      },
    ]) {
      assertErrors(compare(change), ['rev 1: stats.hits: stat-changed']);
    }
  });
  test('bucketSize of a linear histogram', () => {
    const before = mutated((s) => {
      (field(s, 'stats', 'lat') as ArrayFieldSpec).stat = { type: 'linear-hist', unit: 'none', bucketSize: 10 };
    });
    const after = mutated((s) => {
      (field(s, 'stats', 'lat') as ArrayFieldSpec).stat!.bucketSize = 20;
    }, before);
    assertErrors(checkCompat(resolveAbi(after, 0), freezeAll(before)), ['rev 1: stats.lat: stat-changed']);
  });
});

describe('concurrency words', () => {
  test('concurrency-word-moved (not field-moved)', () => {
    const report = compare((s) => {
      const f = struct(s, 'ring').fields;
      f.reverse();
    });
    assertErrors(report, ['rev 1: ring.gen: concurrency-word-moved', 'rev 1: ring.pos: field-moved']);
  });
  test('concurrency-word-resized (not type-changed)', () => {
    const report = compare((s) => {
      (field(s, 'ring', 'gen') as { type: string }).type = 'u64';
    });
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: ring.gen: concurrency-word-resized'), keys.join('\n'));
    assert.ok(!keys.includes('rev 1: ring.gen: type-changed'));
  });
  test('concurrency-word-changed: a seq word stops being one', () => {
    const report = compare((s) => {
      replaceField(s, 'ring', 'gen', int('gen', 'u32', 'No longer a seq.'));
      struct(s, 'ring').seqField = undefined;
    });
    assertErrors(report, ['rev 1: ring.gen: concurrency-word-changed']);
  });
  test('the seqField pointed at another word', () => {
    const report = compare((s) => {
      replaceField(s, 'ring', 'pos', { kind: 'seq', name: 'pos', type: 'u32', doc: 'Now the seq.' });
      struct(s, 'ring').seqField = 'pos';
    });
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: ring.pos: concurrency-word-moved'), keys.join('\n'));
  });
});

describe('grow-and-rewrite', () => {
  test('appending and renaming in the same revision', () => {
    const report = compare((s) => {
      replaceField(s, 'body', 'a', int('alpha', 'u32', 'A.', { renamedFrom: ['a'] }));
      struct(s, 'body').fields.push(int('c', 'u32', 'C.'));
    });
    assertErrors(report, ['rev 1: body.: grow-and-rewrite']);
    assert.deepEqual(keysOf(report, 'warning'), ['rev 1: body.alpha: renamed']);
  });
  test('appending and carving in the same revision', () => {
    const report = compare((s) => {
      replaceField(s, 'stats', 'spare', int('mode', 'u32', 'Mode.'), reserved('spare', 12));
      struct(s, 'stats').fields.push(int('more', 'u64', 'More.'));
    });
    const keys = keysOf(report);
    assert.ok(keys.includes('rev 1: stats.: grow-and-rewrite'), keys.join('\n'));
  });
  test('judged against the immediately previous revision only', () => {
    const rev1 = baseSpec();
    const rev2 = mutated((s) => struct(s, 'body').fields.push(int('c', 'u32', 'C.')), rev1);
    const current = mutated(
      (s) => replaceField(s, 'body', 'a', int('alpha', 'u32', 'A.', { renamedFrom: ['a'] })),
      rev2,
    );
    const report = checkCompat(resolveAbi(current, 0), freezeAll(rev1, rev2));
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'warning'), ['rev 2: body.alpha: renamed']);
  });
});

test('every rule constant is distinct and kebab-case', () => {
  const names = Object.values(COMPAT_RULES);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^[a-z]+(-[a-z]+)*$/);
});

test('violations print as one line: ABI rev N: struct.field: rule: message', () => {
  const report = compare((s) => {
    (field(s, 'hdr', 'weight') as IntFieldSpec).default = 8;
  });
  assert.deepEqual(report.violations.map(formatCompatViolation), [
    'demo rev 1: hdr.weight: default-changed: default was 7, now 8',
  ]);
  assert.equal(R.DEFAULT_CHANGED, report.violations[0]?.rule);
});
