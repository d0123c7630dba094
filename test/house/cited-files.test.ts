/**
 * Comments and docs cite files by their path in the repository ("see src/shm/seqlock.ts"); a move
 * that forgets them leaves a reader looking for a file that is not there. Every such path in a
 * comment of src/, test/, schemas/, scripts/, bench/, guest/ and in the Markdown files must exist.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOTS = ['src', 'test', 'schemas', 'scripts', 'bench', 'guest'];
const SOURCE = /\.(ts|mjs|c|h|S|sh)$/;
const CITED = /\b(?:src|test|schemas|scripts|bench|guest)\/[A-Za-z0-9_./-]+\.(?:ts|mjs|c|h|S|sh|md|json)\b/g;
/** Lines that are comments (C-family and shell) in a source file. */
const COMMENT = /^\s*(\/\/|\/\*|\*|#)/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (SOURCE.test(name)) yield path;
  }
}

function citations(path: string, text: string, commentsOnly: boolean): string[] {
  const out: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (commentsOnly && !COMMENT.test(line)) continue;
    for (const m of line.matchAll(CITED)) out.push(`${path}:${i + 1}: ${m[0]}`);
  }
  return out;
}

test('every file a comment or a document cites exists', () => {
  const cited: string[] = [];
  for (const root of ROOTS) {
    if (!existsSync(root)) continue;
    for (const path of files(root)) cited.push(...citations(path, readFileSync(path, 'utf8'), true));
  }
  for (const doc of readdirSync('.').filter((n) => n.endsWith('.md'))) {
    cited.push(...citations(doc, readFileSync(doc, 'utf8'), false));
  }
  assert.ok(cited.length > 50, `only ${cited.length} citations found: the scan is broken`);
  const missing = cited.filter((c) => !existsSync(c.slice(c.lastIndexOf(' ') + 1)));
  assert.deepEqual(missing, []);
});
