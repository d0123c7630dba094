/**
 * The interactive view through a real terminal: runTop runs in a child process inside a detached
 * tmux session; keys go in with `tmux send-keys`, the screen comes back with `tmux capture-pane`.
 * After the view ends, the pane's shell records the exit code and `stty -a`, and tmux reports
 * whether the alternate screen is still on and the cursor visible.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const socket = `hvkit-top-test-${process.pid}`;
const fixture = resolve('test/top/fixtures/interactive-main.ts');
let dir = '';

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const screen = (session: string) => tmux('capture-pane', '-p', '-t', session);

/** Waits (bounded) until the screen satisfies `check`; returns that screen. */
async function waitFor(session: string, check: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  let text = '';
  while (Date.now() < deadline) {
    text = screen(session);
    if (check(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${text}`);
}

async function waitForFile(path: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.includes('END')) return text;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${path}`);
}

function startTop(name: string, env = ''): { session: string; result: string; pidFile: string } {
  const result = join(dir, `${name}.result`);
  const pidFile = join(dir, `${name}.pid`);
  // After the view ends: exit code and terminal modes into a file, then keep the pane open.
  const script = `${env} TOP_PID_FILE='${pidFile}' node --import tsx '${fixture}'; code=$?; { echo "EXIT=$code"; stty -a; echo END; } > '${result}'; sleep 600`;
  tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', '-c', process.cwd(), script);
  return { session: name, result, pidFile };
}

function paneModes(session: string): { alternate: string; cursor: string; wrap: string } {
  const [alternate = '', cursor = '', wrap = ''] = tmux(
    'display-message',
    '-p',
    '-t',
    session,
    '#{alternate_on} #{cursor_flag} #{wrap_flag}',
  )
    .trim()
    .split(' ');
  return { alternate, cursor, wrap };
}

/** Raw mode off again (canonical input, echo), normal screen, cursor shown, autowrap back on. */
function assertRestored(session: string, result: string): void {
  const stty = result.split('\n').slice(1).join('\n');
  assert.match(stty, /(^|\s)icanon(\s|$)/, 'canonical mode restored');
  assert.match(stty, /(^|\s)echo(\s|$)/, 'echo restored');
  assert.deepEqual(paneModes(session), { alternate: '0', cursor: '1', wrap: '1' });
}

const rowOrder = (text: string, names: string[]) => names.map((n) => text.search(new RegExp(`^${n} `, 'm')));

before(() => {
  if (hasTmux) dir = mkdtempSync(join(tmpdir(), 'hvkit-top-tmux-'));
});

after(() => {
  if (!hasTmux) return;
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  rmSync(dir, { recursive: true, force: true });
});

test('keys drive the live view; q restores the terminal', async (t) => {
  if (!hasTmux) return t.skip('tmux is not installed (apt-get install tmux)');
  const { session, result } = startTop('keys');
  let text = await waitFor(session, (s) => /^gamma +33 .*5000/m.test(s), 'rates on screen');
  assert.equal(paneModes(session).alternate, '1', 'the view runs on the alternate screen');
  assert.equal(paneModes(session).wrap, '0', 'autowrap is off while the view runs: no line can wrap or scroll');
  assert.match(text, /^hvkit top · 4 VMs, 5 vCPUs · every 100 ms · sort EXITS\/s↓/m);
  let [alpha, beta, gamma] = rowOrder(text, ['alpha', 'beta', 'gamma']);
  assert.ok(gamma! < beta! && beta! < alpha!, 'sorted by exits/s, largest first');

  // Sort: s → next column (HLT/s, descending); S reverses it.
  tmux('send-keys', '-t', session, 's');
  text = await waitFor(session, (s) => s.includes('sort HLT/s↓'), 'sort by HLT/s');
  [alpha, beta, gamma] = rowOrder(text, ['alpha', 'beta', 'gamma']);
  assert.ok(alpha! < gamma!, 'alpha halts most');
  tmux('send-keys', '-t', session, 'S');
  await waitFor(session, (s) => s.includes('sort HLT/s↑'), 'reversed sort');

  // Filter: type a regex, Enter applies it.
  tmux('send-keys', '-t', session, '/');
  tmux('send-keys', '-t', session, '-l', 'ALP|gam');
  await waitFor(session, (s) => s.includes('filter: ALP|gam_'), 'the pattern being typed');
  tmux('send-keys', '-t', session, 'Enter');
  text = await waitFor(session, (s) => s.includes('filter /ALP|gam/'), 'filter applied');
  assert.match(text, /^alpha /m);
  assert.match(text, /^gamma /m);
  assert.doesNotMatch(text, /^beta /m);
  assert.match(text, /2 shown/);

  // An invalid regex is an error line, not a crash; Esc cancels an edit.
  tmux('send-keys', '-t', session, '/');
  tmux('send-keys', '-t', session, '-l', '([');
  tmux('send-keys', '-t', session, 'Enter');
  text = await waitFor(session, (s) => s.includes('invalid filter /ALP|gam(['), 'error line');
  assert.match(text, /^beta /m, 'an invalid filter hides nothing');
  tmux('send-keys', '-t', session, '/');
  tmux('send-keys', '-t', session, '-l', 'zzz');
  tmux('send-keys', '-t', session, 'Escape');
  await waitFor(session, (s) => !s.includes('filter: ') && s.includes('invalid filter'), 'edit cancelled');
  tmux('send-keys', '-t', session, '/');
  for (let i = 0; i < 10; i++) tmux('send-keys', '-t', session, 'BSpace');
  tmux('send-keys', '-t', session, 'Enter');
  await waitFor(session, (s) => !s.includes('invalid filter') && /^beta /m.test(s), 'filter cleared');

  // Drill down: select the first VM by name order, Enter shows its vCPUs and histograms; v goes back.
  tmux('send-keys', '-t', session, 's', 's', 's', 's', 's');
  await waitFor(session, (s) => s.includes('sort NAME↑'), 'sort by name');
  tmux('send-keys', '-t', session, 'Down', 'Enter');
  text = await waitFor(session, (s) => s.includes('VM alpha (pid 11, domid 1'), 'vCPU level of alpha');
  assert.match(text, /^vcpu 0 /m);
  assert.match(text, /^vcpu 1 /m);
  assert.match(text, /^vmm\.exit_latency_hist /m);
  assert.doesNotMatch(text, /^gamma /m);
  tmux('send-keys', '-t', session, 'v');
  await waitFor(session, (s) => /^gamma /m.test(s), 'back to all VMs');

  // Pause: sampling stops (the tick VM's name stops changing) and resumes with p.
  tmux('send-keys', '-t', session, 'p');
  // A capture may catch a redraw half done: the predicates treat a missing tick as "not yet".
  const tickOf = (s: string) => s.match(/tick (\d+)/)?.[1];
  text = await waitFor(session, (s) => s.includes('PAUSED') && tickOf(s) !== undefined, 'paused');
  const tick = tickOf(text);
  await new Promise((r) => setTimeout(r, 600)); // several intervals
  assert.equal(tickOf(screen(session)), tick, 'no sample while paused');
  tmux('send-keys', '-t', session, 'p');
  await waitFor(
    session,
    (s) => {
      const now = tickOf(s);
      return !s.includes('PAUSED') && now !== undefined && now !== tick;
    },
    'sampling again',
  );

  // Interval and help.
  tmux('send-keys', '-t', session, '+');
  await waitFor(session, (s) => s.includes('every 200 ms'), 'longer interval');
  tmux('send-keys', '-t', session, 'h');
  await waitFor(session, (s) => s.includes('hvkit top — keys'), 'help');
  tmux('send-keys', '-t', session, 'x');
  await waitFor(session, (s) => !s.includes('hvkit top — keys'), 'help closed');

  tmux('send-keys', '-t', session, 'q');
  const out = await waitForFile(result);
  assert.match(out, /^EXIT=0$/m);
  assertRestored(session, out);
});

test('Ctrl-C quits and restores the terminal', async (t) => {
  if (!hasTmux) return t.skip('tmux is not installed (apt-get install tmux)');
  const { session, result } = startTop('ctrlc');
  await waitFor(session, (s) => /^gamma /m.test(s), 'the view');
  tmux('send-keys', '-t', session, 'C-c');
  const out = await waitForFile(result);
  assert.match(out, /^EXIT=0$/m);
  assertRestored(session, out);
});

test('SIGTERM restores the terminal', async (t) => {
  if (!hasTmux) return t.skip('tmux is not installed (apt-get install tmux)');
  const { session, result, pidFile } = startTop('sigterm');
  await waitFor(session, (s) => /^gamma /m.test(s), 'the view');
  process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
  const out = await waitForFile(result);
  assert.match(out, /^EXIT=143$/m);
  assertRestored(session, out);
});

test('an error restores the terminal, then prints the error and exits 2', async (t) => {
  if (!hasTmux) return t.skip('tmux is not installed (apt-get install tmux)');
  const { session, result } = startTop('error', 'TOP_FAIL_AT=3');
  const out = await waitForFile(result);
  assert.match(out, /^EXIT=2$/m);
  assertRestored(session, out);
  assert.match(screen(session), /^hvkit top: scripted failure$/m, 'the error is on the normal screen');
});
