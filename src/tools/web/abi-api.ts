/**
 * The web view's ABI pages: this repository's ABIs (schemas/), each with its frozen revisions,
 * its generated documentation and what `hvkit abi check` says of it — read from the files on each
 * request, so the page shows the tree as it is now.
 *   GET /api/abis                         every ABI: major, revisions, check verdict
 *   GET /api/abis/<name>                  one ABI: the above, the check's lines, the Markdown docs
 *   GET /api/abis/<name>/revisions/<n>    a frozen revision's lock (JSON)
 * Only names `hvkit abi list` gives reach the registry; anything else is 404.
 */
import { runAbiCheck } from '../../abi/check.ts';
import { generateMarkdownFor } from '../../abi/gen-md.ts';
import { listAbis, loadAbi } from '../../abi/registry.ts';
import { FormatError } from '../../errors.ts';

export interface AbiAnswer {
  status: number;
  doc: unknown;
}

async function summary(name: string) {
  const check = await runAbiCheck([name]);
  let major: number | null = null;
  let revisions: { revision: number; major: number }[] = [];
  let loadError: string | null = null;
  try {
    const loaded = await loadAbi(name);
    major = loaded.current.major;
    revisions = loaded.revisions.map((r) => ({ revision: r.revision, major: r.major }));
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    loadError = e.message;
  }
  return {
    name,
    major,
    revisions,
    loadError,
    check: { ok: check.errors === 0, errors: check.errors, warnings: check.warnings, lines: check.lines },
  };
}

const REVISION = /^([1-9][0-9]{0,5})$/;

/** Answers an /api/abis… path; undefined for any other path. */
export async function answerAbi(path: string): Promise<AbiAnswer | undefined> {
  if (path === '/api/abis') {
    const names = await listAbis();
    return { status: 200, doc: { abis: await Promise.all(names.map(summary)) } };
  }
  if (!path.startsWith('/api/abis/')) return undefined;
  const [name = '', sub, revision, ...rest] = path.slice('/api/abis/'.length).split('/');
  const names = await listAbis();
  if (!names.includes(name)) return { status: 404, doc: { error: `no ABI ${name} (known: ${names.join(', ')})` } };
  if (sub === undefined) {
    let markdown: string | null = null;
    let markdownError: string | null = null;
    try {
      markdown = await generateMarkdownFor(name);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      markdownError = e.message;
    }
    return { status: 200, doc: { ...(await summary(name)), markdown, markdownError } };
  }
  const n = sub === 'revisions' && rest.length === 0 ? REVISION.exec(revision ?? '')?.[1] : undefined;
  if (n === undefined) return { status: 404, doc: { error: `no API route ${path}` } };
  const loaded = await loadAbi(name);
  const frozen = loaded.revisions.find((r) => r.revision === Number(n));
  if (!frozen) return { status: 404, doc: { error: `${name} has no frozen revision ${n}` } };
  return { status: 200, doc: frozen };
}
