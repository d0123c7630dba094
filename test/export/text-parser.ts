/**
 * A tiny parser of the two text formats for the tests, written from the format descriptions (not
 * from the encoder): HELP/TYPE/UNIT lines and samples with escaped label values.
 */

export interface ParsedText {
  help: Map<string, string>;
  type: Map<string, string>;
  unit: Map<string, string>;
  samples: { name: string; labels: [string, string][]; value: string }[];
  eof: boolean;
}

function unescapeText(s: string, quotes: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === '\\') out += '\\';
    else if (n === 'n') out += '\n';
    else if (n === '"' && quotes) out += '"';
    else throw new SyntaxError(`bad escape \\${n} in ${JSON.stringify(s)}`);
  }
  return out;
}

function parseSample(line: string): ParsedText['samples'][number] {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace < 0 || (space >= 0 && space < brace)) {
    return { name: line.slice(0, space), labels: [], value: line.slice(space + 1) };
  }
  const name = line.slice(0, brace);
  const labels: [string, string][] = [];
  let i = brace + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('="', i);
    if (eq < 0) throw new SyntaxError(`no label value in ${line}`);
    const lname = line.slice(i, eq);
    let j = eq + 2;
    let raw = '';
    while (line[j] !== '"') {
      if (j >= line.length) throw new SyntaxError(`unterminated label value in ${line}`);
      if (line[j] === '\\') raw += line[j++];
      raw += line[j++];
    }
    labels.push([lname, unescapeText(raw, true)]);
    i = j + 1;
    if (line[i] === ',') i++;
  }
  if (line[i + 1] !== ' ') throw new SyntaxError(`no value in ${line}`);
  return { name, labels, value: line.slice(i + 2) };
}

export function parseText(text: string, openMetrics: boolean): ParsedText {
  const out: ParsedText = { help: new Map(), type: new Map(), unit: new Map(), samples: [], eof: false };
  if (!text.endsWith('\n')) throw new SyntaxError('no final newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (out.eof) throw new SyntaxError('text after # EOF');
    if (line === '# EOF') {
      out.eof = true;
      continue;
    }
    const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^\n]*)$/.exec(line);
    if (m) {
      const map = m[1] === 'HELP' ? out.help : m[1] === 'TYPE' ? out.type : out.unit;
      map.set(m[2]!, m[1] === 'HELP' ? unescapeText(m[3]!, openMetrics) : m[3]!);
      continue;
    }
    if (line.startsWith('#')) throw new SyntaxError(`unknown comment ${line}`);
    out.samples.push(parseSample(line));
  }
  if (openMetrics && !out.eof) throw new SyntaxError('no # EOF');
  return out;
}
