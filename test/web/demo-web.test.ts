/**
 * `hvkit demo` (what `npm start` runs) serves the web view beside its terminal view: it says
 * where, on stderr and under top's table, and the page's API lists the demo's four VMs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hangDeadline } from '../support/slowdown.ts';

test('hvkit demo prints the web view’s URL and serves its VMs there', async () => {
  const demo = spawn(
    process.execPath,
    ['bin/hvkit.mjs', 'demo', '--own', '--interval', '300', '--seconds', String(hangDeadline(60_000) / 1000)],
    { env: { ...process.env, NO_COLOR: '1', HVKIT_BACKEND: 'sim' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  demo.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  demo.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    const deadline = Date.now() + hangDeadline(60_000);
    let origin: string | undefined;
    let names: string[] = [];
    while (Date.now() < deadline) {
      origin ??= /hvkit demo: web view at (\S+)/.exec(err)?.[1];
      if (origin) {
        const doc = (await (await fetch(`${origin}api/vms`)).json()) as { vms: { name: string }[] };
        names = doc.vms.map((v) => v.name).sort();
        if (names.length === 4 && out.includes(`web view: ${origin}`)) break;
      }
      await sleep(100);
    }
    assert.ok(origin, `the demo said where its web view is: ${err}`);
    assert.deepEqual(names, ['compute', 'cycler', 'io', 'mixed']);
    assert.ok(out.includes(`web view: ${origin}`), 'the URL is shown beside the terminal view');
    assert.match(await (await fetch(origin)).text(), /<title>hvkit/);
  } finally {
    demo.kill('SIGINT');
    await exited;
  }
  assert.match(err, /stopped every domain and removed its regions/);
});
