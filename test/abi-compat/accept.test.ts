/** Every accepted change: no error; renames come back as warnings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkCompat } from '../../src/abi/compat.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { counter, int, nested, reserved, retired } from '../../src/abi/schema.ts';
import { assertErrors, baseSpec, compare, freezeAll, keysOf, mutated, replaceField, struct } from './fixture.ts';

describe('accepted changes', () => {
  test('the unchanged schema', () => {
    const report = compare(() => {});
    assertErrors(report, []);
    assert.equal(report.violations.length, 0);
    assert.deepEqual(report.compared, [1]);
  });
  test('appending at the tail of a versioned struct', () => {
    assertErrors(
      compare((s) => struct(s, 'body').fields.push(int('c', 'u32', 'C.'), counter('d', 'D.'))),
      [],
    );
  });
  test('appending to a versioned top-level struct, including a new stats group', () => {
    const report = compare((s) => {
      s.structs.push({
        name: 'extra_stats',
        doc: 'A new group.',
        sizing: 'versioned',
        seqField: 'seq',
        fields: [{ kind: 'seq', name: 'seq', type: 'u32', doc: 'Seq.' }, reserved('r', 4), counter('n', 'N.')],
      });
      struct(s, 'table').fields.push(nested('extra', 'extra_stats', 'New group.', { group: { bit: 1 } }));
    });
    assertErrors(report, []);
  });
  test('carving fields out of reserved bytes (versioned and fixed structs)', () => {
    assertErrors(
      compare((s) => replaceField(s, 'stats', 'spare', int('mode', 'u32', 'Mode.'), reserved('spare', 12))),
      [],
    );
    assertErrors(
      compare((s) => replaceField(s, 'hdr', 'rsv', int('x', 'u16', 'X.'), reserved('rsv_rest', 6))),
      [],
    );
  });
  test('carving every reserved byte, with a stat field', () => {
    assertErrors(
      compare((s) => replaceField(s, 'stats', 'spare', counter('misses', 'Misses.'), counter('evictions', 'Ev.'))),
      [],
    );
  });
  test('carving padding', () => {
    // hdr has a byte of padding after `kind` (u8 at offset 6, next u32 at 8).
    const report = compare((s) => {
      const fields = struct(s, 'hdr').fields;
      fields.splice(3, 0, int('sub', 'u8', 'Carved from padding.'));
    });
    assertErrors(report, []);
  });
  test('new enum values, flags bits, constants, records and structs', () => {
    const report = compare((s) => {
      s.enums![0]!.values.push({ name: 'PAUSED', value: 3, doc: 'Paused.' });
      s.enums![1]!.values.push({ name: 'NARROW', value: 2, doc: 'Narrow.' });
      s.constants!.push({ name: 'OTHER', doc: 'Other.', type: 'u64', value: 2n ** 63n, kind: 'const' });
      s.records!.push({ name: 'more', doc: 'More.', type: 3, mandatory: false, struct: 'body' });
      s.structs.push({
        name: 'fresh',
        doc: 'Fresh.',
        sizing: 'fixed',
        fields: [int('x', 'u64', 'X.', { default: 5 })],
      });
    });
    assertErrors(report, []);
  });
  test('retiring values, records and fields (tombstones)', () => {
    const report = compare((s) => {
      s.enums![0]!.values[1]!.retired = true;
      s.records![1]!.retired = true;
      replaceField(s, 'body', 'b', retired('b_old', 4, 'Was B.', 4));
    });
    assertErrors(report, []);
  });
  test('a tombstone may keep the field’s name', () => {
    assertErrors(
      compare((s) => replaceField(s, 'body', 'b', retired('b', 4, 'Was B.', 4))),
      [],
    );
  });
  test('a major bump skips older majors (reported as info), so a magic may change', () => {
    const report = compare((s) => {
      s.major = 2;
      s.constants![0]!.value = 1;
      struct(s, 'body').fields.reverse();
    });
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'info'), ['rev 1: abi.major: major-skipped']);
    assert.deepEqual(report.skipped, [1]);
    assert.deepEqual(report.compared, []);
  });
});

describe('renames are warnings', () => {
  test('explicit rename (renamedFrom)', () => {
    const report = compare((s) => replaceField(s, 'body', 'a', int('alpha', 'u32', 'A.', { renamedFrom: ['a'] })));
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'warning'), ['rev 1: body.alpha: renamed']);
    assert.equal(report.warnings, 1);
  });
  test('implicit rename: same bytes and type, old name gone', () => {
    const report = compare((s) => replaceField(s, 'stats', 'count', int('total', 'u32', 'A count.')));
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'warning'), ['rev 1: stats.total: renamed']);
  });
  test('renaming a seq word keeps the group’s seqField', () => {
    const report = compare((s) => {
      replaceField(s, 'ring', 'gen', { kind: 'seq', name: 'generation', type: 'u32', doc: 'G.', renamedFrom: ['gen'] });
      struct(s, 'ring').seqField = 'generation';
    });
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'warning'), ['rev 1: ring.generation: renamed']);
  });
  test('enum value, flags bit and record renames', () => {
    const report = compare((s) => {
      s.enums![0]!.values[1]!.name = 'ACTIVE';
      s.enums![1]!.values[0]!.name = 'QUICK';
      s.records![0]!.name = 'begin';
    });
    assertErrors(report, []);
    assert.deepEqual(keysOf(report, 'warning'), [
      'rev 1: enum state.ACTIVE: renamed',
      'rev 1: flags caps.QUICK: renamed',
      'rev 1: records.begin: renamed',
    ]);
  });
  test('a rename frozen earlier is not reported again', () => {
    const rev1 = baseSpec();
    const rev2 = mutated((s) => replaceField(s, 'body', 'a', int('alpha', 'u32', 'A.', { renamedFrom: ['a'] })), rev1);
    const report = checkCompat(resolveAbi(rev2, 0), freezeAll(rev1, rev2));
    assert.equal(report.violations.length, 0);
  });
});

describe('several frozen revisions at once', () => {
  const rev1 = baseSpec();
  const rev2 = mutated((s) => struct(s, 'body').fields.push(int('c', 'u32', 'C.')), rev1);
  const rev3 = mutated((s) => struct(s, 'body').fields.push(int('d', 'u32', 'D.')), rev2);
  const frozen = freezeAll(rev1, rev2, rev3);

  test('each violation names the revision it breaks', () => {
    const current = mutated((s) => {
      struct(s, 'body').fields.pop(); // drops d: breaks rev 3 only
      s.constants![1]!.value = 99; // breaks every revision
    }, rev3);
    const report = checkCompat(resolveAbi(current, 0), frozen);
    assertErrors(report, [
      'rev 1: constants.LIMIT: const-changed',
      'rev 2: constants.LIMIT: const-changed',
      'rev 3: constants.LIMIT: const-changed',
      'rev 3: body.d: field-removed',
      'rev 3: body.: struct-shrunk',
    ]);
    assert.deepEqual(report.compared, [1, 2, 3]);
  });
  test('revisions may be passed in any order', () => {
    const report = checkCompat(resolveAbi(rev3, 0), [frozen[2]!, frozen[0]!, frozen[1]!]);
    assert.equal(report.violations.length, 0);
  });
  test('a later major skips the older revisions and checks its own', () => {
    const major2 = mutated((s) => (s.major = 2), rev3);
    const rev4 = resolveAbi(major2, 4);
    const current = mutated((s) => {
      s.constants![1]!.value = 99;
    }, major2);
    const report = checkCompat(resolveAbi(current, 0), [...frozen, rev4]);
    assertErrors(report, ['rev 4: constants.LIMIT: const-changed']);
    assert.deepEqual(report.skipped, [1, 2, 3]);
    assert.deepEqual(report.compared, [4]);
  });
});
