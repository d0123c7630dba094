/**
 * The house stays as drawn: README's layer table says which folder of src/ may import which;
 * every import must point to its own folder or a layer above it in the table, and none may
 * form a cycle.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
// @ts-expect-error: a plain ESM script without types (also run as `node scripts/house/imports.mjs`)
import { fileCycles, folderOf, importEdges } from '../../scripts/house/imports.mjs';

interface Edge {
  from: string;
  to: string;
}

/** Folder → layer number, from README's "What is inside: the layers" table. */
function layersFromReadme(): Map<string, number> {
  const layers = new Map<string, number>();
  for (const m of readFileSync('README.md', 'utf8').matchAll(/^\| (\d+) \| `src\/([^`/]+)\/?` \|/gm)) {
    layers.set(m[2]!, Number(m[1]));
  }
  return layers;
}

test("README's layer table names every folder of src/", () => {
  const layers = layersFromReadme();
  const folders = new Set((importEdges() as Edge[]).flatMap((e) => [folderOf(e.from), folderOf(e.to)]));
  for (const f of folders) {
    if (f === 'schemas') continue; // the ABIs themselves, data the formats and abi/ read
    assert.ok(layers.has(f), `src/${f} is missing from README's layer table`);
  }
});

test('no import points down the layer table', () => {
  const layers = layersFromReadme();
  const wrong: string[] = [];
  for (const e of importEdges() as Edge[]) {
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (from === to || to === 'schemas') continue;
    const a = layers.get(from);
    const b = layers.get(to);
    if (a === undefined || b === undefined || b >= a) wrong.push(`${e.from} → ${e.to} (layer ${a} → ${b})`);
  }
  assert.deepEqual(wrong, [], `imports against the layers:\n${wrong.join('\n')}`);
});

test('no import cycle among the files of src/', () => {
  assert.deepEqual(fileCycles(importEdges()), []);
});
