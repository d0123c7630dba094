/** `hvkit export`'s web options: a bad --web-interval is a usage error; --no-web serves no page. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { hvkit } from '../cli/run.ts';

test('--web-interval outside 100 ms … 1 h is a usage error naming the option', () => {
  for (const bad of ['5', '0', 'x', '3600001']) {
    const r = hvkit('export', '--listen', '127.0.0.1:0', '--web-interval', bad, '--pid', String(process.pid));
    assert.equal(r.code, 2, bad);
    assert.match(r.err, /^hvkit: --web-interval/, r.err);
  }
});

test('--no-web: /metrics only, no page and no API; the default serves both and says where', async () => {
  for (const web of [false, true]) {
    const child = spawn(
      process.execPath,
      [
        'bin/hvkit.mjs',
        'export',
        '--listen',
        '127.0.0.1:0',
        '--pid',
        String(process.pid),
        ...(web ? [] : ['--no-web']),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout });
      const said: string[] = [];
      // What it says on start: the metrics URL, then (with the web view) the page's.
      await new Promise<void>((resolve) => {
        lines.on('line', (line) => {
          said.push(line);
          if (said.length === (web ? 2 : 1)) resolve();
        });
      });
      const metrics = /^hvkit export: serving (\S+)$/.exec(said[0]!)![1]!;
      const origin = metrics.replace(/metrics$/, '');
      if (web) assert.equal(said[1], `hvkit export: web view at ${origin}`);
      assert.equal((await fetch(metrics)).status, 200);
      const api = await fetch(`${origin}api/vms`);
      assert.equal(api.status, web ? 200 : 404);
      const page = await fetch(origin);
      assert.match(page.headers.get('content-type') ?? '', web ? /^text\/html/ : /^text\/plain/);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  }
});
