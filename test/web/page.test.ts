/**
 * The web view in a real browser: Debian's Chromium (installed by .ci/run) driven by
 * playwright-core, on `hvkit demo` itself — what `npm start` runs, with its own web server. The
 * demo's four VMs appear with the numbers /api/vms gives for the same sample; keyboard navigation
 * selects, drills in (charts and a heatmap with pixels drawn) and comes back; a filter narrows the
 * table; the demo's cycler VM, destroyed and re-created under the same domid, shows as reused; the
 * ABI pages render the generated documentation (and render a hostile doc inert); when the demo
 * stops, the page says the host is gone. The page's Content-Security-Policy is never violated and
 * it asks nothing of anyone but hvkit. Screenshots go to build/test-output/web/ (not committed).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generateMarkdownFor } from '../../src/abi/gen-md.ts';
import { listAbis } from '../../src/abi/registry.ts';
import { DEMO_DOMAINS } from '../../src/tools/demo.ts';
import { hangDeadline } from '../support/slowdown.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : "missing tool: chromium (.ci/run installs it from Debian's packages); the run fails";
const SHOTS = join('build', 'test-output', 'web');
const NAMES = DEMO_DOMAINS.map((d) => d.name).sort();

let demo: ChildProcess | undefined;
let demoExited: Promise<number | null> | undefined;
let demoOut = '';
let demoErr = '';
let origin: string;
let browser: Browser | undefined;
let page: Page;
/** The domid the demo's cycler VM was first created with (from its log). */
let cyclerDomid: number;
/** Requests the page made anywhere but hvkit's endpoint (refused): must stay empty. */
const outside: string[] = [];
/** What the browser said about the page's Content-Security-Policy: must stay empty. */
const policyComplaints: string[] = [];

interface ApiVm {
  key: string;
  name: string;
  pid: number;
  domid: number | null;
  domidReused: boolean;
  rates: Record<string, number>;
  vcpus: { index: number; rates: Record<string, number> }[];
}

/**
 * Starts `hvkit demo` with its web view on a free loopback port (the default), only its own VMs,
 * a fast refresh and the cycler re-created every few seconds; resolves when it says where the page is.
 */
async function startDemo(): Promise<void> {
  const seconds = Math.min(86_400, Math.ceil(hangDeadline(600_000) / 1000));
  const child = spawn(
    process.execPath,
    ['bin/hvkit.mjs', 'demo', '--own', '--interval', '500', '--recreate-every', '3000', '--seconds', String(seconds)],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  demo = child;
  demoExited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdout!.on('data', (d: Buffer) => {
    // top's frames: only the note line matters here, so keep the text bounded.
    demoOut = (demoOut + d.toString()).slice(-65_536);
  });
  origin = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      demoErr += d.toString();
      const m = /hvkit demo: web view at (\S+)/.exec(demoErr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`hvkit demo exited with ${code} before serving: ${demoErr}`)));
  });
  const created = /created cycler: domid (\d+)/.exec(demoErr);
  assert.ok(created, `the demo logged the cycler's domid: ${demoErr}`);
  cyclerDomid = Number(created[1]);
}

async function apiVms(): Promise<{ seq: number; vms: ApiVm[] }> {
  return (await (await fetch(`${origin}api/vms`)).json()) as { seq: number; vms: ApiVm[] };
}

/** Polls `check` until it returns a value (not undefined), within the hang deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + hangDeadline(30_000);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await sleep(100);
  }
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

interface PageRow {
  key: string;
  name: string;
  pid: string;
  domid: string;
  values: Record<string, string>;
}

// What runs in the page is plain JavaScript in strings: this file is compiled for Node (no DOM
// types), and tsx's name-keeping wrappers must not reach the page.
const READ_TABLE = `(() => {
  const table = document.getElementById('vms');
  const rows = [...table.querySelectorAll('tbody tr.vm')].map((tr) => {
    const cell = (col) => tr.querySelector('td[data-col="' + col + '"]');
    const values = {};
    for (const td of tr.querySelectorAll('td[data-value]')) values[td.dataset.col] = td.dataset.value;
    return {
      key: tr.dataset.key,
      name: cell('name').firstChild.textContent,
      pid: cell('pid').textContent,
      domid: cell('domid').textContent,
      values,
    };
  });
  return { seq: Number(table.dataset.seq ?? 0), rows };
})()`;

const HEATMAP_PIXELS = `(() => {
  const canvas = document.querySelector('#heatmaps canvas[data-rendered="true"]');
  if (!canvas) return null;
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let coloured = 0;
  // Cells are shades of blue on white: red well below, blue high.
  for (let i = 0; i < data.length; i += 4) if (data[i] < 200 && data[i + 2] > 150) coloured++;
  return { coloured, columns: Number(canvas.dataset.columns) };
})()`;

const REUSED_ROW = `(() => {
  const tr = document.querySelector('#vms tr.vm .badge.reused').closest('tr');
  return {
    name: tr.querySelector('td[data-col="name"]').firstChild.textContent,
    domid: tr.querySelector('td[data-col="domid"]').textContent,
  };
})()`;

function readTable(p: Page): Promise<{ seq: number; rows: PageRow[] }> {
  return p.evaluate(READ_TABLE);
}

// Runs in the page before its own scripts (not subject to the page's policy): every refusal the
// policy makes is recorded where the test can read it.
const WATCH_POLICY = `(() => {
  window.__policyViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__policyViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample, document.title].join(' '));
  });
})()`;

/**
 * A doc an ABI author could write: script, handlers, a javascript: link, an id of the page's own,
 * a comment hiding a script after it, placeholders that look like tags.
 */
const HOSTILE_MARKDOWN = [
  '# Title <script>window.__pwned = 1</script>',
  '',
  '<img src="x" onerror="window.__pwned = 2"> <a href="javascript:window.__pwned = 3">click</a>',
  '',
  '<a id="filter"></a>',
  '',
  '<form id="vms"><input name="x"></form><iframe src="/"></iframe>',
  '',
  '<!-- a comment --> <script>window.__pwned = 4</script> <!-- another -->',
  '',
  '[a section](#struct-dom) · [a file](../../include/hvkit/stats-table.h) · <style>body{display:none}</style>',
  '',
  'named hvkit.<pid>.<start_time>.dom<domid>.stats',
  '',
  '| a | b |',
  '| --- | --- |',
  '| `x` | y |',
].join('\n');

const RENDER_HOSTILE = `(() => {
  const box = document.createElement('div');
  box.append(hvkitMarkdown(${JSON.stringify(HOSTILE_MARKDOWN)}));
  return {
    scripts: box.querySelectorAll('script, iframe, form, input, style').length,
    handlers: [...box.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on'))).length,
    hrefs: [...box.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
    ids: [...box.querySelectorAll('[id]')].map((e) => e.id),
    repoLinks: [...box.querySelectorAll('.repo-link')].map((e) => e.title),
    tables: box.querySelectorAll('table').length,
    code: [...box.querySelectorAll('td code')].map((e) => e.textContent),
    heading: box.querySelector('h1')?.textContent,
    text: box.textContent,
  };
})()`;

const RENDERED_DOC = `(() => {
  const doc = document.getElementById('abi-doc');
  return {
    headings: [...doc.querySelectorAll('h1, h2, h3, h4')].map((h) => h.textContent),
    tables: doc.querySelectorAll('table').length,
    inPageLinks: [...doc.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href')),
    anchors: [...doc.querySelectorAll('[id]')].map((e) => e.id),
    rawTableSyntax: doc.textContent.includes('| --- |'),
    source: document.getElementById('abi-doc-source').textContent,
  };
})()`;

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  await startDemo();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Nothing but hvkit's own endpoint: a request anywhere else fails the page (and the test).
  await page.route('**/*', (route) => {
    if (route.request().url().startsWith(origin)) return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) policyComplaints.push(message.text());
  });
  await page.addInitScript(WATCH_POLICY);
  await page.goto(origin);
});

after(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    demo.kill('SIGINT');
    await demoExited;
  }
});

test('the demo’s VMs appear with the numbers /api/vms gives for the same sample', { skip }, async () => {
  const matched = await until('the page and /api/vms on the same sample, every demo VM with rates', async () => {
    const before = await readTable(page);
    const api = await apiVms();
    const after = await readTable(page);
    if (before.seq !== api.seq || after.seq !== api.seq) return undefined;
    // The cycler is away for a moment each time it is re-created, has no rates in its first
    // sample and may not have run yet in its second: wait for a sample where every VM exits.
    if (api.vms.length !== NAMES.length || api.vms.some((v) => !(v.rates.exits! > 0))) return undefined;
    return { rows: after.rows, api };
  });
  await shot('1-vms');
  const byKey = new Map<string, PageRow>(matched.rows.map((r) => [r.key, r]));
  assert.deepEqual([...byKey.keys()].sort(), matched.api.vms.map((v) => v.key).sort());
  for (const vm of matched.api.vms) {
    const row = byKey.get(vm.key)!;
    assert.equal(row.name, vm.name);
    assert.equal(row.pid, String(vm.pid));
    assert.equal(row.pid, String(demo!.pid), 'the demo’s own VMs (--own)');
    assert.equal(row.domid, String(vm.domid));
    for (const [metric, value] of Object.entries(vm.rates)) assert.equal(row.values[metric], String(value), metric);
  }
  assert.deepEqual(matched.rows.map((r) => r.name).sort(), NAMES);
  await until('the URL shown beside the terminal view', async () =>
    demoOut.includes(`web view: ${origin}`) ? true : undefined,
  );
});

test('keyboard: arrows select, Enter drills in (charts and heatmap drawn), Escape comes back', { skip }, async () => {
  // The demo re-creates its cycler every few seconds, and a selected VM that vanishes is no
  // longer selected: the keys move between the VMs that stay. Sorted by name descending (from
  // the keyboard) those come first: mixed, io, then cycler and compute.
  assert.deepEqual(
    (await readTable(page)).rows.map((r) => r.name),
    NAMES,
    'sorted by name',
  );
  await page.focus('#vms th[data-col="name"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#vms th[data-col="name"]', 'aria-sort'), 'descending');
  const selectedName = async () =>
    (await page.$('#vms tr.vm[aria-selected="true"] td[data-col="name"]'))?.evaluate(
      (td) => td.firstChild?.textContent ?? null,
    );
  // The page may re-render between a key and the look, so each look waits.
  const expectSelected = (name: string) =>
    until(`row ${name} selected`, async () => ((await selectedName()) === name ? true : undefined));
  await page.evaluate('document.activeElement instanceof HTMLElement && document.activeElement.blur()');
  // The selection clamps at the top: ArrowUp until the first row is selected, wherever it was.
  await until('the first row selected by ArrowUp', async () => {
    if ((await selectedName()) === 'mixed') return true;
    await page.keyboard.press('ArrowUp');
    return undefined;
  });
  await page.keyboard.press('ArrowUp');
  await expectSelected('mixed');
  await page.keyboard.press('ArrowDown');
  await expectSelected('io');
  await page.keyboard.press('ArrowUp');
  await expectSelected('mixed');
  await page.keyboard.press('ArrowDown');
  await expectSelected('io');
  const key = await page.getAttribute('#vms tr.vm[aria-selected="true"]', 'data-key');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await page.getAttribute('#detail', 'data-key'), key);
  // Time series: uPlot draws into canvases once the VM has points.
  await page.waitForFunction("Number(document.getElementById('chart-rates')?.dataset.points ?? 0) >= 2");
  for (const id of [
    'chart-reasons',
    'chart-rates',
    'chart-vcpus',
    'chart-vcpu-halt',
    'chart-vcpu-io',
    'chart-vcpu-run',
  ]) {
    assert.ok(await page.$(`#${id} canvas`), `${id} has a uPlot canvas`);
  }
  const heatmap = await until('a heatmap with samples drawn', async () => {
    const drawn = await page.evaluate<{ coloured: number; columns: number } | null>(HEATMAP_PIXELS);
    return drawn && drawn.coloured > 0 ? drawn : undefined;
  });
  assert.ok(heatmap.columns >= 1);
  await shot('2-drill-down');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail', { state: 'hidden' });
  assert.equal(await page.isVisible('#vms'), true);
  // Sorting from the keyboard: focus a header, Enter sorts by it.
  await page.focus('#vms th[data-col="domid"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#vms th[data-col="domid"]', 'aria-sort'), 'ascending');
  const domids = await until('rows in domid order', async () => {
    const rows = (await readTable(page)).rows.map((r) => Number(r.domid));
    return rows.length === NAMES.length ? rows : undefined;
  });
  assert.deepEqual(
    domids,
    [...domids].sort((a, b) => a - b),
  );
  await page.focus('#vms th[data-col="name"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#vms th[data-col="name"]', 'aria-sort'), 'ascending');
});

test('a filter narrows the table to the matching VMs', { skip }, async () => {
  await page.evaluate('document.activeElement instanceof HTMLElement && document.activeElement.blur()');
  await page.keyboard.press('/');
  await page.keyboard.type('^mix');
  await page.keyboard.press('Enter');
  const names = await until('one row left', async () => {
    const rows = (await readTable(page)).rows;
    return rows.length === 1 ? rows.map((r) => r.name) : undefined;
  });
  assert.deepEqual(names, ['mixed']);
  await shot('3-filter');
  await page.fill('#filter', '');
  await page.dispatchEvent('#filter', 'input');
  await until('every row back', async () =>
    (await readTable(page)).rows.length >= NAMES.length - 1 ? true : undefined,
  );
});

test('the demo’s cycler, destroyed and re-created under the same domid, shows as reused', { skip }, async () => {
  await page.waitForSelector('#vms tr.vm .badge.reused', { timeout: hangDeadline(30_000) });
  const row = await page.evaluate<{ name: string; domid: string }>(REUSED_ROW);
  assert.deepEqual(row, { name: 'cycler', domid: String(cyclerDomid) });
  await page.waitForSelector('#events li[data-kind="domid-reused"]');
  await page.waitForSelector('#events li[data-kind="destroyed"], #events li[data-kind="vanished"]');
  const api = await apiVms();
  const cycler = api.vms.find((v) => v.name === 'cycler');
  if (cycler) assert.equal(cycler.domid, cyclerDomid, 'the host gives the freed domid again');
  await shot('4-domid-reused');
});

test('the ABI pages: every schema, its frozen revisions, abi check’s verdict and the rendered docs', {
  skip,
}, async () => {
  await page.click('#tab-abis');
  await page.waitForSelector('#abi-list[data-loaded="true"]');
  const listed = await page.$$eval('#abi-list tbody tr', (rows) => rows.map((r) => r.getAttribute('data-abi')));
  assert.deepEqual(listed, await listAbis());
  assert.match((await page.textContent('#abi-list tr[data-abi="stats-table"]'))!, /1, 2, 3, 4, 5, 6.*compatible/);
  await page.focus('#abi-list tr[data-abi="stats-table"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#abi-detail[data-abi="stats-table"]');
  const markdown = await generateMarkdownFor('stats-table');
  const doc = await page.evaluate<{
    headings: string[];
    tables: number;
    inPageLinks: string[];
    anchors: string[];
    rawTableSyntax: boolean;
    source: string;
  }>(RENDERED_DOC);
  // Rendered, not shown as text: every Markdown heading is a heading (its `code` as text), every
  // table a table, and the source is kept beside it.
  const mdHeadings = markdown
    .split('\n')
    .filter((l) => /^#{1,4} /.test(l))
    .map((l) => l.replace(/^#+ /, '').replaceAll('`', ''));
  assert.deepEqual(doc.headings, mdHeadings);
  assert.equal(doc.tables, markdown.split('\n').filter((l) => /^\| ---/.test(l)).length);
  assert.equal(doc.rawTableSyntax, false);
  assert.equal(doc.source, markdown);
  // The docs' links between sections land on their (prefixed) anchors.
  assert.ok(doc.inPageLinks.length > 0);
  for (const href of doc.inPageLinks)
    assert.ok(doc.anchors.includes(decodeURIComponent(href.slice(1))), `${href} has its anchor`);
  assert.match((await page.textContent('#abi-check'))!, /stats-table: major \d+: compatible with revisions/);
  assert.equal(await page.locator('#abi-revisions a').count(), 6);
  await shot('5-abi');
  await page.click('#abi-doc a[href="#user-content-struct-dom"]');
  assert.equal(await page.evaluate('location.hash'), '#user-content-struct-dom');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#abi-detail', { state: 'hidden' });
  await page.click('#tab-vms');
  await page.waitForSelector('#vms', { state: 'visible' });
});

test('a hostile ABI doc renders inert: no script, handler, form, foreign frame or page id', { skip }, async () => {
  assert.deepEqual(await page.evaluate('window.__policyViolations'), [], 'nothing the page did so far was refused');
  const out = await page.evaluate<{
    scripts: number;
    handlers: number;
    hrefs: string[];
    ids: string[];
    repoLinks: string[];
    tables: number;
    code: string[];
    heading: string;
    text: string;
  }>(RENDER_HOSTILE);
  assert.equal(out.scripts, 0);
  assert.equal(out.handlers, 0);
  assert.deepEqual(out.hrefs, ['#user-content-struct-dom'], 'only the Markdown link is a link');
  assert.deepEqual(out.ids, ['user-content-filter'], 'the anchor kept, its id prefixed');
  assert.deepEqual(out.repoLinks, ['in the repository, relative to docs/abi/: ../../include/hvkit/stats-table.h']);
  assert.equal(out.tables, 1);
  assert.deepEqual(out.code, ['x']);
  // Raw HTML other than the generator's anchors and comments is shown as the text it is.
  assert.equal(out.heading, 'Title <script>window.__pwned = 1</script>');
  for (const text of [
    '<img src="x" onerror="window.__pwned = 2">',
    '<a href="javascript:window.__pwned = 3">click</a>',
    '<form id="vms"><input name="x"></form><iframe src="/"></iframe>',
    '<script>window.__pwned = 4</script>',
    '<style>body{display:none}</style>',
    'named hvkit.<pid>.<start_time>.dom<domid>.stats',
  ]) {
    assert.ok(out.text.includes(text), text);
  }
  // Nothing ran, and nothing reached the parser for the page's policy to refuse.
  await sleep(200);
  assert.equal(await page.evaluate('window.__pwned ?? null'), null);
  assert.equal(await page.evaluate("document.getElementById('filter').tagName"), 'INPUT');
  assert.deepEqual(await page.evaluate('window.__policyViolations'), []);
});

test('when the demo stops, the page says the host is gone', { skip }, async () => {
  demo!.kill('SIGINT');
  assert.equal(await demoExited, 0);
  assert.match(demoErr, /stopped every domain and removed its regions/);
  await page.waitForSelector('#gone:not([hidden])', { timeout: hangDeadline(30_000) });
  assert.match((await page.textContent('#gone'))!, /host is gone/);
  assert.equal(await page.getAttribute('body', 'data-connection'), 'gone');
  assert.ok((await readTable(page)).rows.length > 0, 'the last numbers stay on the page');
  await shot('6-host-gone');
  assert.deepEqual(outside, [], 'the page asked nothing of anyone but hvkit');
  assert.deepEqual(await page.evaluate('window.__policyViolations'), [], 'nothing the page did was refused');
  assert.deepEqual(policyComplaints, []);
});
