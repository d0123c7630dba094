/**
 * C header generator: one self-contained header per ABI, usable from C11 and C++.
 *
 * The header is the ABI's reference documentation (kerneldoc on every struct,
 * field and enum) and its own test: every padding byte is an explicit `_padN`
 * member, and static assertions pin the size of every struct and the offset of
 * every field to what the layout engine computed, so a compiler that disagrees
 * refuses to build.
 */

import {
  checkMemberNames,
  cIncludeGuard,
  cIntType,
  cleanText,
  constantMacro,
  cStructTag,
  type DescribeNames,
  enumValueMacro,
  fieldDescription,
  flagBitMacro,
  type GenProvenance,
  groupBitMacro,
  groupMaskMacro,
  headerMacros,
  isSignedType,
  liveValues,
  loadGenSources,
  majorMacro,
  paragraphs,
  provenanceFor,
  recordTypeMacro,
  revisionMacro,
  sizingRule,
  structSizeMacro,
  structsInDependencyOrder,
  wrapWords,
} from './gen-common.ts';
import { DEFAULT_SCHEMAS_ROOT } from './registry.ts';
import type { ResolvedAbi, ResolvedConstant, ResolvedEnum, ResolvedField, ResolvedStruct } from './resolved.ts';
import type { IntType } from './schema.ts';

const WIDTH = 100;

/** Make text safe inside a C block comment: no comment delimiters, no trigraphs. */
export function escapeCComment(text: string): string {
  return cleanText(text)
    .replace(/\*\//g, '*\\/')
    .replace(/\/\*/g, '/\\*')
    .replace(/\?(?=\?)/g, '?\\');
}

/**
 * A `/** … *\/` comment. Each entry is one paragraph (wrapped to the width); an empty
 * entry is a blank comment line. A single short paragraph stays on one line.
 */
export function docComment(indent: string, entries: string[]): string {
  const width = WIDTH - indent.length - 3;
  const first = entries[0];
  if (entries.length === 1 && first !== undefined) {
    const one = escapeCComment(first).replace(/\s*\n\s*/g, ' ');
    if (indent.length + one.length + 7 <= WIDTH) return `${indent}/** ${one} */\n`;
  }
  const lines = [`${indent}/**`];
  for (const entry of entries) {
    if (entry === '') lines.push(`${indent} *`);
    else for (const l of wrapWords(escapeCComment(entry).replace(/\n/g, ' '), width)) lines.push(`${indent} * ${l}`);
  }
  lines.push(`${indent} */`);
  return `${lines.join('\n')}\n`;
}

/** A C integer literal of the given type with the right suffix; INT*_MIN spelled so it stays signed. */
export function cLiteral(value: string | bigint, type: IntType, hex = false): string {
  const v = BigInt(value);
  if (!isSignedType(type)) {
    const digits = hex ? `0x${v.toString(16).toUpperCase()}` : v.toString();
    return `${digits}${type === 'u64' ? 'ULL' : 'U'}`;
  }
  const suffix = type === 's64' ? 'LL' : '';
  if (v >= 0n) return `${v}${suffix}`;
  const min = -(1n << BigInt(Number(type.slice(1)) - 1));
  // For the minimum, `-2147483648` would be the negation of an out-of-range positive literal.
  return v === min ? `(-${-(v + 1n)}${suffix} - 1)` : `(-${-v}${suffix})`;
}

function defines(rows: [string, string][]): string {
  const w = Math.max(0, ...rows.map(([n]) => n.length));
  return rows.map(([n, v]) => `#define ${n.padEnd(w)} ${v}\n`).join('');
}

function namesFor(abi: string): DescribeNames {
  return {
    constant: (name) => constantMacro(abi, name),
    enumValues: (name) => `${enumValueMacro(abi, name, '*')}`,
    flagValues: (name) => `${enumValueMacro(abi, name, '*')} (masks), ..._BIT (bit numbers)`,
    group: (parent, field) => groupMaskMacro(abi, parent, field),
  };
}

function cDeclaration(abi: string, f: ResolvedField): string {
  switch (f.kind) {
    case 'int':
    case 'magic':
    case 'seq':
      return `${cIntType(f.type ?? 'u8')} ${f.name}`;
    case 'array':
      return `${cIntType(f.type ?? 'u8')} ${f.name}[${f.count}]`;
    case 'char':
      return `char ${f.name}[${f.count}]`;
    case 'struct':
      return `struct ${cStructTag(abi, f.struct ?? '')} ${f.name}${f.count > 1 ? `[${f.count}]` : ''}`;
    default:
      return `uint8_t ${f.name}[${f.size}]`;
  }
}

/** The alignment the C compiler gives a struct from its members alone (on LP64). */
function memberAlign(f: ResolvedField): number {
  return f.kind === 'char' || f.kind === 'reserved' || f.kind === 'retired' || f.kind === 'pad' ? 1 : f.align;
}

/** True when the struct needs an explicit alignas to reach its resolved alignment. */
function needsAlignas(s: ResolvedStruct): boolean {
  return s.align > Math.max(1, ...s.fields.map(memberAlign));
}

function constantBlock(abi: ResolvedAbi, c: ResolvedConstant): string {
  const what = c.kind === 'magic' ? `magic, ${c.type}` : c.type;
  const name = constantMacro(abi.abi, c.name);
  return (
    docComment('', [`define ${name} - ${c.doc} (${what})`]) +
    defines([[name, cLiteral(c.value, c.type, c.kind === 'magic')]])
  );
}

function enumBlock(abi: ResolvedAbi, e: ResolvedEnum): string {
  const flags = e.kind === 'flags';
  const live = liveValues(e);
  const retiredValues = e.values.filter((v) => v.retired);
  const entries = [
    `enum ${cStructTag(abi.abi, e.name)} - ${e.doc}`,
    ...live.map(
      (v) => `@${enumValueMacro(abi.abi, e.name, v.name)}: ${v.doc}${flags ? ` (bit ${v.value})` : ` (${v.value})`}`,
    ),
    '',
    flags
      ? `Bits of a ${e.type} field. Each flag has its bit number (..._BIT) and its mask. Bits not listed here must be zero; readers ignore bits they do not know.`
      : `Values of a ${e.type} field. They are macros rather than a C enum because the field width is part of the ABI.`,
  ];
  if (retiredValues.length) {
    entries.push(
      '',
      `Retired ${flags ? 'bits' : 'values'}, never to be reused: ${retiredValues.map((v) => `${v.value} (${v.name})`).join(', ')}.`,
    );
  }
  const rows: [string, string][] = [];
  for (const v of live) {
    if (flags) {
      rows.push([flagBitMacro(abi.abi, e.name, v.name), String(v.value)]);
      rows.push([enumValueMacro(abi.abi, e.name, v.name), `(1ULL << ${v.value})`]);
    } else {
      rows.push([enumValueMacro(abi.abi, e.name, v.name), cLiteral(String(v.value), e.type)]);
    }
  }
  return docComment('', entries) + defines(rows);
}

function recordsBlock(abi: ResolvedAbi): string {
  if (abi.records.length === 0) return '';
  const live = abi.records.filter((r) => !r.retired);
  const retiredRecords = abi.records.filter((r) => r.retired);
  const entries = [
    `DOC: record types of the ${abi.abi} stream`,
    '',
    'Unknown mandatory records make a reader refuse the stream; unknown optional records are skipped.',
    '',
    ...live.map(
      (r) =>
        `${recordTypeMacro(abi.abi, r.name)} (${r.type}, ${r.mandatory ? 'mandatory' : 'optional'}): ${r.doc} Payload: struct ${cStructTag(abi.abi, r.struct)}.`,
    ),
  ];
  if (retiredRecords.length) {
    entries.push(
      '',
      `Retired record types, never to be reused: ${retiredRecords.map((r) => `${r.type} (${r.name})`).join(', ')}.`,
    );
  }
  return (
    docComment('', entries) +
    defines(live.map((r) => [recordTypeMacro(abi.abi, r.name), cLiteral(String(r.type), 'u32')]))
  );
}

function structBlock(abi: ResolvedAbi, s: ResolvedStruct): string {
  const tag = cStructTag(abi.abi, s.name);
  const [brief = '', ...rest] = paragraphs(s.doc);
  const entries = [`struct ${tag} - ${brief || s.name}`];
  for (const p of rest) entries.push('', p);
  entries.push('', `Size ${s.size} bytes, alignment ${s.align}. ${sizingRule(s)}`);
  if (s.seqField) {
    entries.push('', `A stats group: readers retry while ${s.seqField} is odd or changed during the read.`);
  }
  let out = docComment('', entries);
  out += `struct ${tag} {\n`;
  const names = namesFor(abi.abi);
  s.fields.forEach((f, i) => {
    out += docComment('\t', [`@${f.name}: ${fieldDescription(abi, s, f, names)}`]);
    const alignas = i === 0 && needsAlignas(s) ? `HVKIT_ALIGNAS(${s.align}) ` : '';
    out += `\t${alignas}${cDeclaration(abi.abi, f)};\n`;
  });
  out += '};\n\n';

  const rows: [string, string][] = [[structSizeMacro(abi.abi, s.name), String(s.size)]];
  for (const f of s.fields) {
    if (!f.group) continue;
    rows.push([groupBitMacro(abi.abi, s.name, f.name), String(f.group.bit)]);
    rows.push([groupMaskMacro(abi.abi, s.name, f.name), `(1ULL << ${f.group.bit})`]);
  }
  out += defines(rows);
  out += `HVKIT_STATIC_ASSERT(sizeof(struct ${tag}) == ${structSizeMacro(abi.abi, s.name)}, "size of struct ${tag}");\n`;
  if (needsAlignas(s)) {
    out += `HVKIT_STATIC_ASSERT(HVKIT_ALIGNOF(struct ${tag}) == ${s.align}, "alignment of struct ${tag}");\n`;
  }
  for (const f of s.fields) {
    out += `HVKIT_STATIC_ASSERT(offsetof(struct ${tag}, ${f.name}) == ${f.offset}, "offset of ${tag}.${f.name}");\n`;
  }
  return out;
}

const PORTABILITY = `#ifndef HVKIT_STATIC_ASSERT
#ifdef __cplusplus
#define HVKIT_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#define HVKIT_ALIGNAS(n) alignas(n)
#define HVKIT_ALIGNOF(type) alignof(type)
#else
#define HVKIT_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#define HVKIT_ALIGNAS(n) _Alignas(n)
#define HVKIT_ALIGNOF(type) _Alignof(type)
#endif
#endif
`;

/** The C header for one resolved ABI. Deterministic: the same input gives the same bytes. */
export function generateCHeader(abi: ResolvedAbi, from: GenProvenance = provenanceFor(abi.abi, 'c')): string {
  checkMemberNames(abi);
  headerMacros(abi); // refuses two schema names that map to one macro
  const guard = cIncludeGuard(abi.abi);
  const revision = abi.revision > 0 ? `revision ${abi.revision}` : 'working schema (not frozen yet)';
  const sections: string[] = [];

  sections.push(
    `/* SPDX-License-Identifier: MIT */\n/*\n * Generated by ${from.by} from ${from.source}: do not edit.\n * Change the schema and run \`${from.regenerate}\`.\n */\n`,
  );
  sections.push(
    docComment('', [
      `DOC: hvkit ABI ${abi.abi}, major ${abi.major}, ${revision}`,
      '',
      ...paragraphs(abi.doc).flatMap((p) => [p, '']),
      'Every padding byte is an explicit _padN member and must be zero; the static assertions below pin every size and offset, so the layout is the same on every compiler and target.',
    ]),
  );
  sections.push(`#ifndef ${guard}\n#define ${guard}\n\n#include <stddef.h>\n#include <stdint.h>\n\n${PORTABILITY}`);
  sections.push(
    docComment('', [`define ${majorMacro(abi.abi)} - major version; bumped only for a deliberate break`]) +
      defines([[majorMacro(abi.abi), String(abi.major)]]) +
      docComment('', [`define ${revisionMacro(abi.abi)} - frozen revision this header describes (0: working schema)`]) +
      defines([[revisionMacro(abi.abi), String(abi.revision)]]),
  );
  for (const c of abi.constants) sections.push(constantBlock(abi, c));
  for (const e of abi.enums) sections.push(enumBlock(abi, e));
  const records = recordsBlock(abi);
  if (records) sections.push(records);
  for (const s of structsInDependencyOrder(abi)) sections.push(structBlock(abi, s));
  sections.push(`#endif /* ${guard} */\n`);
  return sections.join('\n');
}

/** The C header of the ABI `name` (from the registry), as scripts/gen-abi.ts writes it. */
export async function generateCHeaderFor(name: string, schemasRoot = DEFAULT_SCHEMAS_ROOT): Promise<string> {
  return generateCHeader((await loadGenSources(name, schemasRoot)).described, provenanceFor(name, 'c', schemasRoot));
}
