/** Unit tests of the generators: names, literals, escaping, determinism, revision history. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { cLiteral, docComment, escapeCComment, generateCHeader, generateCHeaderFor } from '../../src/abi/gen-c.ts';
import {
  abiSnake,
  cStructTag,
  describedRevision,
  enumValueMacro,
  flagBitMacro,
  groupMaskMacro,
  headerMacros,
  macroName,
  structSizeMacro,
} from '../../src/abi/gen-common.ts';
import { escapeMarkdown, generateMarkdown, generateMarkdownFor, revisionChanges } from '../../src/abi/gen-md.ts';
import { resolveAbi } from '../../src/abi/layout.ts';
import { parseLock, serializeLock } from '../../src/abi/lockfile.ts';
import { listAbis } from '../../src/abi/registry.ts';
import type { ResolvedAbi } from '../../src/abi/resolved.ts';
import { type AbiSpec, array, counter, int, nested, reserved, retired, seq } from '../../src/abi/schema.ts';
import { FormatError } from '../../src/errors.ts';
import { alignment, extremes, HOSTILE_DOC, hostileDocs, inMemorySchemas } from './schemas.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The inside of every C block comment in a text, and what is outside them. */
function splitComments(c: string): { inside: string[]; outside: string } {
  const inside: string[] = [];
  let outside = '';
  let i = 0;
  while (i < c.length) {
    const start = c.indexOf('/*', i);
    if (start < 0) {
      outside += c.slice(i);
      break;
    }
    outside += c.slice(i, start);
    const end = c.indexOf('*/', start + 2);
    assert.ok(end >= 0, 'every comment is closed');
    inside.push(c.slice(start + 2, end));
    i = end + 2;
  }
  return { inside, outside };
}

describe('C names', () => {
  it('follow the shared conventions', () => {
    assert.equal(abiSnake('kvm-stats'), 'kvm_stats');
    assert.equal(cStructTag('kvm-stats', 'desc'), 'hvkit_kvm_stats_desc');
    assert.equal(macroName('kvm-stats', 'max_name'), 'HVKIT_KVM_STATS_MAX_NAME');
    assert.equal(enumValueMacro('stats-table', 'arch', 'x86_64'), 'HVKIT_STATS_TABLE_ARCH_X86_64');
    assert.equal(flagBitMacro('stats-table', 'dom_groups', 'sched'), 'HVKIT_STATS_TABLE_DOM_GROUPS_SCHED_BIT');
    assert.equal(structSizeMacro('stats-table', 'dom'), 'HVKIT_STATS_TABLE_DOM_SIZE');
    assert.equal(groupMaskMacro('stats-table', 'dom', 'sched'), 'HVKIT_STATS_TABLE_DOM_GROUP_SCHED');
  });

  it('appear in the header: struct tags, members, macros, include guard, padding', () => {
    const h = generateCHeader(resolveAbi(alignment));
    assert.match(h, /^#ifndef HVKIT_GEN_ALIGN_H\n#define HVKIT_GEN_ALIGN_H$/m);
    assert.match(h, /^struct hvkit_gen_align_outer \{$/m);
    assert.match(h, /^\tstruct hvkit_gen_align_tombstone_first tomb\[2\];$/m);
    assert.match(h, /^\tuint8_t _pad0\[\d+\];$/m);
    assert.match(h, /^#define HVKIT_GEN_ALIGN_OUTER_GROUP_G_BIT 63$/m);
    assert.match(h, /^#define HVKIT_GEN_ALIGN_OUTER_GROUP_G +\(1ULL << 63\)$/m);
    assert.match(h, /^\tHVKIT_ALIGNAS\(64\) char c\[5\];$/m);
    assert.match(h, /^\tHVKIT_ALIGNAS\(8\) uint8_t gone\[8\];$/m);
    // Nested structs are defined before the struct that contains them.
    const pos = (tag: string) => h.indexOf(`struct hvkit_gen_align_${tag} {`);
    for (const inner of ['bytes_only', 'tombstone_first', 'grp']) assert.ok(pos(inner) < pos('outer'), inner);
  });

  it('refuses two schema names that map to one macro', () => {
    const spec: AbiSpec = {
      name: 'clash',
      doc: '',
      major: 1,
      constants: [{ name: 'HDR_SIZE', doc: '', type: 'u32', value: 1, kind: 'const' }],
      structs: [{ name: 'hdr', doc: '', sizing: 'fixed', fields: [int('x', 'u32', '')] }],
    };
    assert.throws(
      () => generateCHeader(resolveAbi(spec)),
      (e: unknown) => e instanceof FormatError && e.rule === 'macro-collision' && e.field === 'HVKIT_CLASH_HDR_SIZE',
    );
  });

  it('refuses members named like a C/C++ keyword, a standard macro or a reserved identifier', () => {
    for (const name of ['class', 'new', 'default', 'offsetof', 'linux', '_Bad', 'a__b']) {
      const spec: AbiSpec = {
        name: 'kw',
        doc: '',
        major: 1,
        structs: [{ name: 'hdr', doc: '', sizing: 'fixed', fields: [int(name, 'u32', '')] }],
      };
      assert.throws(
        () => generateCHeader(resolveAbi(spec)),
        (e: unknown) => e instanceof FormatError && e.rule === 'c-reserved-name' && e.field === `hdr.${name}`,
        name,
      );
    }
  });
});

describe('C literals', () => {
  it('carry the suffix of their type and stay signed at the minimum', () => {
    assert.equal(cLiteral('7', 'u8'), '7U');
    assert.equal(cLiteral('4294967295', 'u32'), '4294967295U');
    assert.equal(cLiteral('18446744073709551615', 'u64'), '18446744073709551615ULL');
    assert.equal(cLiteral('1213613400', 'u32', true), '0x48564558U');
    assert.equal(cLiteral('5', 's16'), '5');
    assert.equal(cLiteral('-5', 's32'), '(-5)');
    assert.equal(cLiteral('-2147483648', 's32'), '(-2147483647 - 1)');
    assert.equal(cLiteral('-9223372036854775808', 's64'), '(-9223372036854775807LL - 1)');
    assert.equal(cLiteral('9223372036854775807', 's64'), '9223372036854775807LL');
    assert.equal(cLiteral('-128', 's8'), '(-127 - 1)');
  });

  it('headerMacros lists every value the header defines', () => {
    const names = headerMacros(resolveAbi(extremes)).map((m) => m.name);
    assert.ok(names.includes('HVKIT_GEN_EXTREMES_S64_LO'));
    assert.ok(names.includes('HVKIT_GEN_EXTREMES_BIG_LO'));
    assert.ok(names.includes('HVKIT_GEN_EXTREMES_MAGICS_SIZE'));
    assert.ok(names.includes('HVKIT_GEN_EXTREMES_ABI_MAJOR'));
  });
});

describe('escaping', () => {
  it('a doc containing */ or /* cannot end or nest a C comment', () => {
    const h = generateCHeader(resolveAbi(hostileDocs));
    const { inside, outside } = splitComments(h);
    for (const c of inside) assert.ok(!c.includes('/*'), `nested comment opener in: ${c}`);
    // Nothing of the docs leaks out of the comments.
    assert.ok(!outside.includes('trigraph'), 'doc text outside a comment');
    assert.ok(!outside.includes('pipe'), 'doc text outside a comment');
    assert.ok(!h.includes('??'), 'no trigraph sequences');
    const controls = [...h].filter((ch) => (ch < ' ' && ch !== '\n' && ch !== '\t') || ch === '\u007f');
    assert.deepEqual(controls, [], 'no control characters besides newline and the indenting tab');
  });

  it('escapeCComment never leaves a comment delimiter (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('*', '/', '?', '\\', 'a', ' ', '\n') }), (s) => {
        const e = escapeCComment(s);
        return !e.includes('*/') && !e.includes('/*') && !e.includes('??');
      }),
      { numRuns: 1000 },
    );
  });

  it('docComment keeps a one-line doc on one line and wraps long ones within 100 columns', () => {
    assert.equal(docComment('\t', ['@x: short']), '\t/** @x: short */\n');
    const long = docComment('', [`struct a - ${'word '.repeat(60)}`, '', 'tail */ end']);
    for (const line of long.trimEnd().split('\n')) assert.ok(line.length <= 100, line);
    assert.ok(long.includes('tail *\\/ end'));
  });

  it('Markdown cells cannot break a table or inject HTML', () => {
    assert.equal(escapeMarkdown('a | b <i>x</i> & y\nz'), 'a \\| b &lt;i&gt;x&lt;/i&gt; &amp; y z');
    const md = generateMarkdown(resolveAbi(hostileDocs), []);
    assert.ok(!md.includes('<b>'));
    // Every table row has as many unescaped pipes as its header.
    for (const block of md.split('\n\n').filter((b) => b.startsWith('| '))) {
      const cells = block.split('\n').map((row) => row.replace(/\\\|/g, '').split('|').length);
      assert.ok(
        cells.every((n) => n === cells[0]),
        block,
      );
    }
  });
});

describe('determinism', () => {
  it('the same ABI gives the same bytes, also after a trip through a lock file', () => {
    for (const spec of inMemorySchemas) {
      const abi = resolveAbi(spec, 3);
      const viaLock = parseLock(serializeLock(abi), 'test');
      assert.equal(generateCHeader(abi), generateCHeader(resolveAbi(spec, 3)));
      assert.equal(generateCHeader(abi), generateCHeader(viaLock));
      assert.equal(generateMarkdown(abi, [viaLock]), generateMarkdown(viaLock, [abi]));
    }
  });

  it('generateCHeaderFor / generateMarkdownFor give the committed files', async () => {
    for (const name of await listAbis()) {
      assert.equal(await generateCHeaderFor(name), readFileSync(`${ROOT}include/hvkit/${name}.h`, 'utf8'));
      assert.equal(await generateMarkdownFor(name), readFileSync(`${ROOT}docs/abi/${name}.md`, 'utf8'));
    }
  });

  it('contains no timestamps or absolute paths', () => {
    const h = generateCHeader(resolveAbi(alignment));
    const md = generateMarkdown(resolveAbi(alignment), []);
    for (const text of [h, md]) {
      assert.ok(!/\d{4}-\d{2}-\d{2}/.test(text));
      assert.ok(!text.includes(ROOT));
    }
  });
});

// ---- revision history -------------------------------------------------------------------------

function evolving(rev: 1 | 2): AbiSpec {
  const two = rev === 2;
  return {
    name: 'evolving',
    doc: 'An ABI in two revisions.',
    major: 1,
    constants: [
      { name: 'MAGIC', doc: 'Magic.', type: 'u32', value: 1, kind: 'magic' },
      ...(two ? [{ name: 'LIMIT', doc: 'New.', type: 'u16' as const, value: 9, kind: 'const' as const }] : []),
    ],
    enums: [
      {
        name: 'mode',
        doc: 'Mode.',
        kind: 'enum',
        type: 'u8',
        values: [
          { name: 'a', value: 0, doc: 'A.' },
          { name: 'b', value: 1, doc: 'B.', retired: two },
          ...(two ? [{ name: 'c', value: 2, doc: 'C.' }] : []),
        ],
      },
    ],
    structs: [
      {
        name: 'grp',
        doc: 'Group.',
        sizing: 'fixed',
        seqField: 'seq',
        fields: [seq('seq', 'u32', 'Seq.'), int('n', 'u32', 'N.')],
      },
      {
        name: 'hdr',
        doc: 'Header.',
        sizing: 'versioned',
        fields: [
          int('size', 'u32', 'Size.'),
          two ? int('flags', 'u16', 'Carved.') : reserved('spare', 4),
          ...(two ? [reserved('spare', 2)] : []),
          two ? retired('old', 8, 'Gone.', 8) : int('old', 'u64', 'Old.'),
          int(two ? 'count' : 'cnt', 'u32', 'Count.', two ? { renamedFrom: ['cnt'] } : {}),
          ...(two ? [counter('hits', 'Hits.'), nested('g', 'grp', 'Group.', { group: { bit: 2 } })] : []),
        ],
      },
      ...(two
        ? [
            {
              name: 'extra',
              doc: 'New.',
              sizing: 'fixed' as const,
              fields: [array('h', 'u64', 4, 'Hist.', { stat: { type: 'log-hist', unit: 'none' } })],
            },
          ]
        : []),
    ],
    records: [
      { name: 'r1', doc: 'R1.', type: 1, mandatory: true, struct: 'hdr', retired: two },
      ...(two ? [{ name: 'r2', doc: 'R2.', type: 2, mandatory: false, struct: 'hdr' }] : []),
    ],
  };
}

describe('revision history', () => {
  const rev1 = resolveAbi(evolving(1), 1);
  const rev2 = resolveAbi(evolving(2), 2);

  it('says what the first revision introduced', () => {
    const [line] = revisionChanges(undefined, rev1);
    assert.match(
      line ?? '',
      /^Initial revision: 2 struct\(s\) \(`grp`, `hdr`\); constants `MAGIC`; enums\/flags `mode`; records `r1`\.$/,
    );
  });

  it('lists what a revision added: fields (carved, appended, renamed, retired), values, structs, records', () => {
    assert.deepEqual(revisionChanges(rev1, rev2), [
      'New constant `LIMIT` = `9`.',
      'enum `mode`: value `b` retired.',
      'enum `mode`: new value `c` = 2.',
      'Struct `hdr` size 24 → 40 bytes.',
      '`hdr.flags` (`u16` at offset 4), carved out of reserved bytes.',
      '`hdr.old` retired.',
      '`hdr.cnt` renamed to `count`.',
      '`hdr.hits` (`u64` at offset 24), appended.',
      '`hdr.g` (`struct grp` at offset 32, group bit 2), appended.',
      'New struct `extra` (32 bytes, fixed).',
      'Record `r1` retired.',
      'New optional record `r2` (type 2).',
    ]);
  });

  it('documents every frozen revision and the unfrozen changes', () => {
    const working = resolveAbi({ ...evolving(2), structs: [...evolving(2).structs] }, 0);
    const md = generateMarkdown(working, [rev2, rev1]);
    const history = md.slice(md.indexOf('## Revision history'));
    assert.ok(history.indexOf('### Revision 1') < history.indexOf('### Revision 2'), 'ascending order');
    assert.ok(!history.includes('### Not frozen yet'), 'working schema equals revision 2');
    const changed = resolveAbi({ ...evolving(2), constants: [...(evolving(2).constants ?? [])] }, 0);
    changed.constants.push({ name: 'NEW', doc: 'x', type: 'u8', value: '1', kind: 'const' });
    const md2 = generateMarkdown(changed, [rev1, rev2]);
    assert.match(md2, /### Not frozen yet\n\n- New constant `NEW` = `1`\./);
    assert.match(generateMarkdown(rev1, []), /No revision has been frozen yet\./);
  });

  it('describes the latest revision when the working schema equals it', () => {
    const working = resolveAbi(evolving(2), 0);
    assert.equal(describedRevision(working, [rev1, rev2]).revision, 2);
    assert.equal(describedRevision(working, [rev1]).revision, 0);
    assert.equal(describedRevision(working, []).revision, 0);
  });
});

describe('Markdown content', () => {
  const abi: ResolvedAbi = resolveAbi(evolving(2), 2);
  const md = generateMarkdown(abi, [resolveAbi(evolving(1), 1), abi]);

  it('has a table per struct with offsets, sizes, types and stats columns where relevant', () => {
    assert.match(md, /### struct `hdr`/);
    assert.match(md, /\| Offset \| Size \| Type \| Name \| Description \| Stat \| Unit \| Scale \| Buckets \|/);
    assert.match(
      md,
      /\| 24 \| 8 \| `u64` \| `hits` \| Hits\. All ones means the counter is inactive\. \| cumulative \| none \| 10\^0 \| {2}\|/,
    );
    assert.match(md, /\| 0 \| 32 \| `u64\[4\]` \| `h` \| Hist\. \| log-hist \| none \| 10\^0 \| 4 \(log2\) \|/);
    // A struct without statistics has no stats columns.
    assert.match(md, /### struct `grp`[\s\S]*?\| Offset \| Size \| Type \| Name \| Description \|\n/);
  });

  it('states the sizing rule of each struct, the groups and the records', () => {
    assert.match(md, /\| \[`hdr`\]\(#struct-hdr\) \| 40 \| 8 \| versioned \| the producer records the size it wrote/);
    assert.match(md, /\| \[`grp`\]\(#struct-grp\) \| 8 \| 4 \| fixed \| the size is part of the ABI/);
    assert.match(md, /### Groups of `hdr`\n\n.*\n.*\n\| 2 \| `g` \| \[`grp`\]\(#struct-grp\) \| 32 \| 8 \| `seq` \|/);
    assert.match(md, /\| 1 \| ~~`r1`~~ \(retired\) \|/);
    assert.match(md, /\| 1 \| ~~`b`~~ \(retired\) \| {2}\| B\. \|/);
  });

  it('keeps the hostile doc readable but inert', () => {
    const hostile = generateMarkdown(resolveAbi(hostileDocs), []);
    assert.ok(hostile.includes(escapeMarkdown(HOSTILE_DOC)));
  });
});
