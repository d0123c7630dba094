/**
 * Reading the layout header of a shared-memory region, the same way for every region format:
 * copy it out first (no double fetch from memory a producer may change), parse the copy,
 * validate it, and throw the first violation that would make an address wrong.
 */
import { FormatError, type Violation } from '../errors.ts';

export interface HeaderRules<L> {
  format: string;
  /** Bytes the header takes. */
  size: number;
  /** "a table", "a directory": for the too-short message. */
  what: string;
  parse(copy: Uint8Array): L;
  validate(layout: L, regionLength: number): Violation[];
  /** Rules whose violation makes addressing unsafe: reading stops there. */
  addressing: ReadonlySet<string>;
}

export function readLayoutHeader<L>(
  bytes: Uint8Array,
  rules: HeaderRules<L>,
): { layout: L; raw: Uint8Array; violations: Violation[] } {
  if (bytes.length < rules.size) {
    throw new FormatError(
      rules.format,
      'region',
      'region-too-short',
      `${rules.what} needs at least ${rules.size} bytes`,
      String(bytes.length),
    );
  }
  const raw = bytes.slice(0, rules.size);
  const layout = rules.parse(raw);
  const violations = rules.validate(layout, bytes.length);
  const fatal = violations.find((v) => v.severity === 'error' && rules.addressing.has(v.rule));
  if (fatal) throw new FormatError(rules.format, fatal.field, fatal.rule, fatal.message, fatal.value);
  return { layout, raw, violations };
}
