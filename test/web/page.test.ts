/**
 * The web view in a real browser: Debian's Chromium (installed by .ci/run) driven by
 * playwright-core, over `hvkit export` of an hvkit host on the simulated backend. The demo's kind
 * of VMs appear with the numbers /api/vms gives for the same sample; keyboard navigation selects,
 * drills in (charts and a heatmap with pixels drawn) and comes back; a filter narrows the table; a
 * domain destroyed and re-created under the same domid shows as reused; when the exporter stops,
 * the page says the host is gone. Screenshots go to build/test-output/web/ (not committed).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generateMarkdownFor } from '../../src/abi/gen-md.ts';
import { listAbis } from '../../src/abi/registry.ts';
import { ctl, json, type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : "missing tool: chromium (.ci/run installs it from Debian's packages); the run fails";
const SHOTS = join('build', 'test-output', 'web');
const NAMES = ['web-a', 'web-b'];

let host: Started | undefined;
let exporter: ChildProcess | undefined;
let exporterExited: Promise<number | null> | undefined;
let origin: string;
let browser: Browser | undefined;
let page: Page;
const domids = new Map<string, number>();
/** Requests the page made anywhere but hvkit's endpoint (refused): must stay empty. */
const outside: string[] = [];

interface ApiVm {
  key: string;
  name: string;
  pid: number;
  domid: number | null;
  domidReused: boolean;
  rates: Record<string, number>;
  vcpus: { index: number; rates: Record<string, number> }[];
}

async function startExporter(hostPid: number): Promise<void> {
  const child = spawn(
    process.execPath,
    ['bin/hvkit.mjs', 'export', '--listen', '127.0.0.1:0', '--pid', String(hostPid), '--web-interval', '500'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } },
  );
  exporter = child;
  exporterExited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const web = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /^hvkit export: web view at (\S+)$/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`hvkit export exited with ${code} before serving`)));
  });
  origin = web;
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

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '0']);
  for (const name of NAMES) {
    const d = json<{ domid: number }>(
      ctl(host.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--name', name, '--json']),
    );
    domids.set(name, d.domid);
  }
  await startExporter(host.pid);
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
  await page.goto(origin);
});

after(async () => {
  await browser?.close();
  if (exporter && exporter.exitCode === null) {
    exporter.kill('SIGTERM');
    await exporterExited;
  }
  if (host) await stopHost(host);
});

test('the VMs appear with the numbers /api/vms gives for the same sample', { skip }, async () => {
  const matched = await until('the page and /api/vms on the same sample with rates', async () => {
    const before = await readTable(page);
    const api = await apiVms();
    const after = await readTable(page);
    if (before.seq !== api.seq || after.seq !== api.seq) return undefined;
    if (api.vms.length !== NAMES.length || api.vms.some((v) => v.rates.exits === undefined)) return undefined;
    return { rows: after.rows, api };
  });
  await shot('1-vms');
  const byKey = new Map<string, PageRow>(matched.rows.map((r) => [r.key, r]));
  assert.deepEqual([...byKey.keys()].sort(), matched.api.vms.map((v) => v.key).sort());
  for (const vm of matched.api.vms) {
    const row = byKey.get(vm.key)!;
    assert.equal(row.name, vm.name);
    assert.equal(row.pid, String(vm.pid));
    assert.equal(row.domid, String(vm.domid));
    for (const [metric, value] of Object.entries(vm.rates)) assert.equal(row.values[metric], String(value), metric);
    assert.ok(vm.rates.exits! > 0, 'a compute workload exits');
  }
  assert.deepEqual(matched.rows.map((r) => r.name).sort(), [...NAMES].sort());
});

test('keyboard: arrows select, Enter drills in (charts and heatmap drawn), Escape comes back', { skip }, async () => {
  const order = (await readTable(page)).rows.map((r) => r.key);
  assert.ok(order.length >= 2, 'two VMs to move between');
  const selected = async () => (await page.$('#vms tr.vm[aria-selected="true"]'))?.getAttribute('data-key');
  // The selection clamps at the ends: enough ArrowUps put it on the first row wherever it was
  // (none, or a row an earlier step left selected). The page may re-render between a key and
  // the look, so each look waits.
  const expectSelected = (key: string) =>
    until(`row ${key} selected`, async () => ((await selected()) === key ? true : undefined));
  await page.evaluate('document.activeElement instanceof HTMLElement && document.activeElement.blur()');
  for (let i = 0; i < order.length; i++) await page.keyboard.press('ArrowUp');
  await expectSelected(order[0]!);
  await page.keyboard.press('ArrowDown');
  await expectSelected(order[1]!);
  await page.keyboard.press('ArrowUp');
  await expectSelected(order[0]!);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await page.getAttribute('#detail', 'data-key'), order[0]);
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
  await page.focus('#vms th[data-col="pid"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#vms th[data-col="pid"]', 'aria-sort'), 'ascending');
});

test('a filter narrows the table to the matching VMs', { skip }, async () => {
  await page.keyboard.press('/');
  await page.keyboard.type('web-b');
  await page.keyboard.press('Enter');
  const names = await until('one row left', async () => {
    const rows = (await readTable(page)).rows;
    return rows.length === 1 ? rows.map((r) => r.name) : undefined;
  });
  assert.deepEqual(names, ['web-b']);
  await shot('3-filter');
  await page.fill('#filter', '');
  await page.dispatchEvent('#filter', 'input');
  await until('both rows back', async () => ((await readTable(page)).rows.length === 2 ? true : undefined));
});

test('a domain destroyed and re-created under the same domid shows as reused', { skip }, async () => {
  const domid = domids.get('web-a')!;
  const destroyed = ctl(host!.pid, ['destroy', String(domid)]);
  assert.equal(destroyed.code, 0, destroyed.err);
  const created = json<{ domid: number }>(
    ctl(host!.pid, ['create', '--vcpus', '1', '--memory', '4', '--workload', 'compute', '--name', 'web-a2', '--json']),
  );
  assert.equal(created.domid, domid, 'the host gives the freed domid again');
  await page.waitForSelector('#vms tr.vm .badge.reused', { timeout: hangDeadline(30_000) });
  const row = await page.evaluate<{ name: string; domid: string }>(REUSED_ROW);
  assert.deepEqual(row, { name: 'web-a2', domid: String(domid) });
  await page.waitForSelector('#events li[data-kind="domid-reused"]');
  await page.waitForSelector('#events li[data-kind="destroyed"], #events li[data-kind="vanished"]');
  await shot('4-domid-reused');
});

test('the ABI pages: every schema, its frozen revisions, abi check’s verdict and the generated docs', {
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
  assert.equal(await page.textContent('#abi-doc'), await generateMarkdownFor('stats-table'));
  assert.match((await page.textContent('#abi-check'))!, /stats-table: major \d+: compatible with revisions/);
  assert.equal(await page.locator('#abi-revisions a').count(), 6);
  await shot('5-abi');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#abi-detail', { state: 'hidden' });
  await page.click('#tab-vms');
  await page.waitForSelector('#vms', { state: 'visible' });
});

test('when the exporter stops, the page says the host is gone', { skip }, async () => {
  exporter!.kill('SIGTERM');
  assert.equal(await exporterExited, 0);
  await page.waitForSelector('#gone:not([hidden])', { timeout: hangDeadline(30_000) });
  assert.match((await page.textContent('#gone'))!, /host is gone/);
  assert.equal(await page.getAttribute('body', 'data-connection'), 'gone');
  assert.ok((await readTable(page)).rows.length > 0, 'the last numbers stay on the page');
  await shot('6-host-gone');
  assert.deepEqual(outside, [], 'the page asked nothing of anyone but hvkit');
});
