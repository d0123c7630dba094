/**
 * Escaping of HELP text and label values. Prometheus text 0.0.4 escapes `\` and newline in HELP,
 * and `\`, `"` and newline in label values; OpenMetrics 1.0 escapes all three in both. Anything
 * else (any UTF-8) is written as it is.
 */

const HELP_004 = /[\\\n]/;
const QUOTED = /[\\"\n]/;

function escapeAll(s: string, pattern: RegExp): string {
  if (!pattern.test(s)) return s;
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '"' && pattern === QUOTED) out += '\\"';
    else out += ch;
  }
  return out;
}

export function escapeHelp(s: string, openMetrics: boolean): string {
  return escapeAll(s, openMetrics ? QUOTED : HELP_004);
}

export function escapeLabelValue(s: string): string {
  return escapeAll(s, QUOTED);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isMetricName(s: string): boolean {
  return NAME.test(s);
}

export function isLabelName(s: string): boolean {
  return LABEL_NAME.test(s) && !s.startsWith('__');
}
