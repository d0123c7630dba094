// Import graph of src/: static imports, re-exports and dynamic import('…') of relative paths.
// Used by the layer test (test/house/layers.test.ts) and printable: `node scripts/house/imports.mjs`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every edge file → file (paths relative to the repository), with whether it is type-only. */
export function importEdges(root = ROOT) {
  const edges = [];
  for (const file of walk(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[2] ?? m[3];
      if (!spec?.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      edges.push({ from: relative(root, file), to: relative(root, target), typeOnly: Boolean(m[1]) });
    }
  }
  return edges;
}

/** The folder of a file under src/ (src/host/host.ts → host; src/errors.ts → "(root)"); outside src: its top folder. */
export function folderOf(path) {
  const parts = path.split('/');
  if (parts[0] !== 'src') return parts[0];
  return parts.length > 2 ? parts[1] : '(root)';
}

/** Cycles among files (strongly connected components with more than one file, or a self-import). */
export function fileCycles(edges) {
  const graph = new Map();
  for (const e of edges) {
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    graph.get(e.from).add(e.to);
  }
  // Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const out = [];
  for (const start of graph.keys()) {
    if (idx.has(start)) continue;
    const work = [[start, [...(graph.get(start) ?? [])], 0]];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, next] = frame;
      if (frame[2] < next.length) {
        const w = next[frame[2]++];
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push([w, [...(graph.get(w) ?? [])], 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === idx.get(v)) {
        const scc = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
      }
    }
  }
  return out;
}

/** Counts of imports between folders: "from → to" → n (imports inside a folder left out). */
export function folderCounts(edges) {
  const counts = new Map();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    const key = `${a} → ${b}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts].sort((x, y) => x[0].localeCompare(y[0])));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const edges = importEdges();
  for (const [k, n] of folderCounts(edges)) console.log(`${String(n).padStart(4)}  ${k}`);
  const cycles = fileCycles(edges);
  console.log(`\n${cycles.length} import cycle(s)`);
  for (const c of cycles) console.log(`  ${c.join(' ↔ ')}`);
}
