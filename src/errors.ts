/**
 * Typed errors shared by every reader, checker and tool.
 *
 * A reader that rejects input throws a FormatError naming the field it was
 * reading and the rule that failed; a checker collects Violations instead of
 * throwing so that one run reports every problem at once.
 */

export type Severity = 'error' | 'warning';

/** One broken (or suspicious) rule, as reported by a checker. */
export interface Violation {
  /** Dotted path of the field, e.g. `header.desc_offset` or `desc[3].size`. */
  field: string;
  /** Short kebab-case rule name, stable enough to match in tests and scripts. */
  rule: string;
  /** The offending value, rendered as text (bigint-safe). */
  value?: string;
  severity: Severity;
  /** One human sentence. */
  message: string;
}

/** Thrown by readers when input breaks a rule they cannot read past. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    readonly format: string,
    readonly field: string,
    readonly rule: string,
    message: string,
    readonly value?: string,
  ) {
    super(`${format}: ${field}: ${rule}: ${message}${value === undefined ? '' : ` (value ${value})`}`);
  }

  toViolation(): Violation {
    return { field: this.field, rule: this.rule, value: this.value, severity: 'error', message: this.message };
  }
}

/** Thrown for bad command lines, missing files and other environment problems (CLI exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function formatViolation(v: Violation): string {
  const value = v.value === undefined ? '' : ` (value ${v.value})`;
  return `${v.severity}: ${v.field}: ${v.rule}: ${v.message}${value}`;
}

/** The error code (ENOENT, EACCES …) of a Node error or a failed system call, when it has one. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
