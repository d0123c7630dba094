/**
 * Redraw of the live view on a real terminal, for sequences of keys and lifecycle events: the real
 * `hvkit top` runs in tmux against a real host (simulated backend), keys go in with send-keys,
 * domains are destroyed with `hvkit ctl destroy`, and every captured screen must be exactly one
 * view — title, events and header lines in place, the rows of that view and nothing left over
 * from an earlier one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ctl, json, type Started, startHost, stopHost } from '../ctl/host-process.ts';
import { hangDeadline } from '../support/slowdown.ts';
import { hasTmux, Tmux } from './fixtures/tmux.ts';

const tmux = new Tmux(`hvkit-top-redraw-${process.pid}`);
const SESSION = 'redraw';
/** Names only this test uses, so VMs of other hosts on the machine are filtered out. */
const prefix = `r${process.pid}`;
const names = [`${prefix}a`, `${prefix}b`, `${prefix}c`];
let host: Started | undefined;
const domids = new Map<string, number>();

const TITLE = /^hvkit top · /;
const EVENTS = /^events: /;
const KEYS_LINE = /^q quit {2}s\/S sort/;

/** Rows after `from` must all be blank. */
function blankFrom(rows: string[], from: number): string | undefined {
  const extra = rows.findIndex((r, i) => i >= from && r.trim() !== '');
  return extra < 0 ? undefined : `row ${extra} should be blank: "${rows[extra]}"`;
}

/** The VM list showing exactly `shown` (any order): title, events, header, one row each, the key line. */
function vmView(shown: readonly string[], title: RegExp = TITLE) {
  return (rows: string[]): string | undefined => {
    if (!title.test(rows[0] ?? '')) return `title line: "${rows[0]}"`;
    if (!EVENTS.test(rows[1] ?? '')) return `events line: "${rows[1]}"`;
    if (!/^NAME +PID +DOM /.test(rows[2] ?? '')) return `header line: "${rows[2]}"`;
    const listed = rows.slice(3, 3 + shown.length).map((r) => r.split(' ')[0]);
    if ([...listed].sort().join() !== [...shown].sort().join())
      return `VM rows ${listed.join()} (want ${shown.join()})`;
    if (!KEYS_LINE.test(rows[3 + shown.length] ?? '')) return `key line: "${rows[3 + shown.length]}"`;
    return blankFrom(rows, 4 + shown.length);
  };
}

/** The vCPU view of `name` (2 vCPUs): heading, header, both vCPUs, histograms, the key line. */
function vcpuView(name: string) {
  return (rows: string[]): string | undefined => {
    if (!TITLE.test(rows[0] ?? '')) return `title line: "${rows[0]}"`;
    if (!EVENTS.test(rows[1] ?? '')) return `events line: "${rows[1]}"`;
    if (!(rows[2] ?? '').startsWith(`VM ${name} (pid `)) return `VM heading: "${rows[2]}"`;
    if (!/^NAME +EXITS\/s/.test(rows[3] ?? '')) return `header line: "${rows[3]}"`;
    if (!/^vcpu 0 /.test(rows[4] ?? '') || !/^vcpu 1 /.test(rows[5] ?? '')) return 'vCPU rows';
    const keys = rows.findIndex((r) => KEYS_LINE.test(r));
    if (keys < 6) return 'key line';
    if (rows.slice(6, keys).some((r) => /^(r\d+[a-z]|vcpu) /.test(r))) return 'a row of another view';
    return blankFrom(rows, keys + 1);
  };
}

/** After the selected VM is destroyed: title, events, the notice, header, "(no vCPUs)", the key line. */
function goneView(name: string) {
  return (rows: string[]): string | undefined => {
    if (!TITLE.test(rows[0] ?? '')) return `title line: "${rows[0]}"`;
    if (!EVENTS.test(rows[1] ?? '') || !rows[1]!.includes(name)) return `events line naming ${name}: "${rows[1]}"`;
    if (!(rows[2] ?? '').startsWith('the selected VM is gone')) return `notice: "${rows[2]}"`;
    if (!/^NAME +EXITS\/s/.test(rows[3] ?? '')) return `header line: "${rows[3]}"`;
    if ((rows[4] ?? '').trim() !== '(no vCPUs)') return `"(no vCPUs)": "${rows[4]}"`;
    if (!KEYS_LINE.test(rows[5] ?? '')) return `key line: "${rows[5]}"`;
    return blankFrom(rows, 6);
  };
}

/**
 * Waits for the view `check` describes (the keys sent before it have been handled once it shows),
 * lets several samples redraw it, and checks it is still exactly that view.
 */
async function settle(check: (rows: string[]) => string | undefined): Promise<string[]> {
  await tmux.waitFor(SESSION, check, hangDeadline(20_000));
  await new Promise((r) => setTimeout(r, 1000)); // five samples at 200 ms
  return tmux.waitFor(SESSION, check, hangDeadline(5_000));
}

before(async () => {
  if (!hasTmux) return;
  host = await startHost({ HVKIT_BACKEND: 'sim' }, ['--domains', '0']);
  for (const name of names) {
    const d = json<{ domid: number }>(
      ctl(host.pid, ['create', '--vcpus', '2', '--memory', '4', '--workload', 'compute', '--name', name, '--json']),
    );
    domids.set(name, d.domid);
  }
  tmux.run(
    'new-session',
    '-d',
    '-s',
    SESSION,
    '-x',
    '120',
    '-y',
    '40',
    '-c',
    process.cwd(),
    `NO_COLOR= node bin/hvkit.mjs top --interval 200 --filter '^${prefix}'; sleep 600`,
  );
});

after(async () => {
  if (!hasTmux) return;
  tmux.kill();
  if (host) await stopHost(host);
});

/** The vCPU view of any of `candidates`. */
function anyVcpuView(candidates: readonly string[]) {
  return (rows: string[]): string | undefined =>
    candidates.some((n) => vcpuView(n)(rows) === undefined) ? undefined : vcpuView(candidates[0]!)(rows);
}

/**
 * Keys one at a time, each followed by the view it must lead to (so samples redraw every state in
 * between, as when a person types), then the last view must stay exactly right.
 */
async function typeKeys(steps: [key: string | string[], view: (rows: string[]) => string | undefined][]) {
  for (const [key, view] of steps) {
    tmux.keys(SESSION, ...(Array.isArray(key) ? key : [key]));
    await tmux.waitFor(SESSION, view, hangDeadline(20_000));
    await new Promise((r) => setTimeout(r, 300)); // a sample or two in this view
  }
  await settle(steps.at(-1)![1]);
}

test('drilling in and out, moving, destroying the selected VM: every screen is exactly one view', async (t) => {
  if (!hasTmux) return t.skip('tmux is not installed (apt-get install tmux)');
  await settle(vmView(names));

  // v v v v: into the first VM and back, twice.
  const all = vmView(names);
  const inside = anyVcpuView(names);
  await typeKeys([
    ['v', inside],
    ['v', all],
    ['v', inside],
    ['v', all],
  ]);
  // v Down v (Down does nothing at vCPU level), and more round trips.
  await typeKeys([
    ['v', inside],
    [['Down', 'v'], all],
    ['v', inside],
    ['v', all],
    ['v', inside],
    ['v', all],
  ]);

  // Select another row, drill in, and destroy that VM under the view.
  await typeKeys([[['Down', 'v'], inside]]);
  const victim = tmux.screen(SESSION)[2]!.split(' ')[1]!;
  assert.ok(names.includes(victim), victim);
  const destroyed = ctl(host!.pid, ['destroy', String(domids.get(victim))]);
  assert.equal(destroyed.code, 0, destroyed.err);
  await settle(goneView(victim));

  // Back to the list: the destroyed VM's row is gone, nothing of the vCPU view stays; and again.
  const left = names.filter((n) => n !== victim);
  await typeKeys([
    ['v', vmView(left)],
    ['v', anyVcpuView(left)],
    ['v', vmView(left)],
  ]);
  tmux.keys(SESSION, 'q');
});
