/**
 * Redraw of the interactive view, for any sequence of keys and events: the bytes the view writes,
 * replayed into a terminal model, must leave exactly the current screen — title, events and
 * header lines in place, no row of an earlier screen left behind — whatever came before
 * (drilling into a VM and back, VMs created and destroyed, the selected one included, help, the
 * filter line, pausing, resizes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LifecycleEvent, VmSample } from '../../src/attach/sample.ts';
import { TopTracker } from '../../src/tools/top/frame.ts';
import { PLAIN } from '../../src/tools/top/screen.ts';
import { type TerminalSize, TopSession } from '../../src/tools/top/session.ts';
import { initialState, KEY } from '../../src/tools/top/state.ts';
import { counter, event, log2Hist, sample, vm } from './fixtures/samples.ts';
import { TerminalModel } from './fixtures/terminal-model.ts';

const BOLD: typeof PLAIN = {
  bold: (s) => `\u001b[1m${s}\u001b[22m`,
  dim: (s) => `\u001b[2m${s}\u001b[22m`,
  inverse: (s) => `\u001b[7m${s}\u001b[27m`,
  red: (s) => `\u001b[31m${s}\u001b[39m`,
  yellow: (s) => `\u001b[33m${s}\u001b[39m`,
  cyan: (s) => `\u001b[36m${s}\u001b[39m`,
};

type Op =
  | { kind: 'key'; key: string }
  | { kind: 'create' }
  | { kind: 'destroy-selected' }
  | { kind: 'destroy'; index: number }
  | { kind: 'tick' }
  | { kind: 'resize'; columns: number; rows: number };

const KEYS = ['v', 'v', KEY.enter, KEY.up, KEY.down, 's', 'S', '/', 'a', KEY.backspace, KEY.esc, 'p', '+', '-', 'h'];
const size = () => fc.record({ columns: fc.integer({ min: 20, max: 160 }), rows: fc.integer({ min: 4, max: 40 }) });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...KEYS).map((key): Op => ({ kind: 'key', key })) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: 'create' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: 'destroy-selected' }) },
  { weight: 1, arbitrary: fc.nat(9).map((index): Op => ({ kind: 'destroy', index })) },
  { weight: 3, arbitrary: fc.constant<Op>({ kind: 'tick' }) },
  { weight: 1, arbitrary: size().map((s): Op => ({ kind: 'resize', ...s })) },
);

/** A host whose VMs come and go; each sample has the VMs of the moment and the events since the last. */
class World {
  #vms: { key: string; name: string; vcpus: number }[] = [];
  #events: LifecycleEvent[] = [];
  #created = 0;
  #n = 0;

  constructor(count: number) {
    for (let i = 0; i < count; i++) this.create();
  }

  create(): void {
    const i = this.#created++;
    const key = `k${i}`;
    this.#vms.push({ key, name: `vm-${i}${'x'.repeat(i % 5)}`, vcpus: 1 + (i % 3) });
    this.#events.push(event('created', key, `vm-${i} created`, Date.UTC(2024, 0, 1, 0, 0, i)));
  }

  destroy(key: string | undefined): void {
    const index = this.#vms.findIndex((v) => v.key === key);
    if (index < 0) return;
    const [gone] = this.#vms.splice(index, 1);
    this.#events.push(event('destroyed', gone!.key, `${gone!.name} destroyed`));
  }

  keyAt(index: number): string | undefined {
    return this.#vms.length === 0 ? undefined : this.#vms[index % this.#vms.length]!.key;
  }

  sample() {
    const n = ++this.#n;
    const t = BigInt(n);
    const vms: VmSample[] = this.#vms.map((v, i) =>
      vm({
        key: v.key,
        name: v.name,
        pid: 100 + i,
        domid: i + 1,
        vcpus: Array.from({ length: v.vcpus }, (_, c) => [
          counter('exits', t * BigInt(100 * (i + 1) + c)),
          counter('halt_exits', t * BigInt(c + 1)),
          log2Hist('vmm.exit_latency_hist', [0n, t, t * BigInt(i), 0n]),
        ]),
      }),
    );
    const events = this.#events;
    this.#events = [];
    return sample(n * 0.5, vms, events);
  }
}

/** What the screen must show: the view's lines (plain), each cut to the terminal, blank rows after. */
function expectedScreen(session: TopSession, terminal: TerminalSize): string[] {
  const lines = session.lines(terminal, PLAIN);
  return Array.from({ length: terminal.rows }, (_, y) =>
    [...(lines[y] ?? '')].slice(0, terminal.columns).join('').trimEnd(),
  );
}

function check(start: TerminalSize, ops: Op[]): void {
  let terminal = start;
  const model = new TerminalModel(terminal.columns, terminal.rows);
  const world = new World(3);
  const session = new TopSession(new TopTracker(), initialState({ intervalMs: 1000 }), BOLD);
  const draw = () => model.write(session.draw(terminal));
  session.push(world.sample());
  draw();
  for (const [step, o] of ops.entries()) {
    if (o.kind === 'key') session.key(o.key);
    else if (o.kind === 'resize') {
      terminal = { columns: o.columns, rows: o.rows };
      model.resize(o.columns, o.rows);
    } else {
      if (o.kind === 'create') world.create();
      if (o.kind === 'destroy-selected') world.destroy(session.state.selected);
      if (o.kind === 'destroy') world.destroy(world.keyAt(o.index));
      session.push(world.sample());
    }
    draw();
    const shown = model.screen();
    const where = `after step ${step} (${JSON.stringify(o)}):\n${shown.join('\n')}`;
    assert.deepEqual(shown, expectedScreen(session, terminal), `the screen is the current frame ${where}`);
    assert.match(shown[0]!, /^hvkit top · /, `title line ${where}`);
    if (terminal.rows > 2) assert.match(shown[1]!, /^events: /, `events line ${where}`);
    const screenRows = Math.max(3, terminal.rows - 1);
    const topLines = 2 + (session.state.editing !== undefined ? 1 : 0) + (session.state.filterError ? 1 : 0);
    const headerRow = topLines + (session.state.level === 'vcpu' ? 1 : 0);
    if (!session.state.help && headerRow < Math.min(screenRows, terminal.rows))
      assert.match(shown[headerRow]!, /^NAME +/, `header line ${where}`);
  }
}

test('any sequence of keys and events leaves exactly the current screen', () => {
  fc.assert(fc.property(size(), fc.array(op, { minLength: 1, maxLength: 40 }), check), { numRuns: 300 });
});

test('the reported sequences: v v v v, v Down v, the selected VM destroyed while drilled in', () => {
  const terminal = { columns: 120, rows: 30 };
  const key = (k: string): Op => ({ kind: 'key', key: k });
  check(terminal, [key('v'), key('v'), { kind: 'tick' }, key('v'), key('v'), { kind: 'tick' }]);
  check(terminal, [key('v'), { kind: 'tick' }, key(KEY.down), key('v'), { kind: 'tick' }, key('v')]);
  check(terminal, [
    key(KEY.down),
    key('v'),
    { kind: 'tick' },
    { kind: 'destroy-selected' },
    { kind: 'tick' },
    key('v'),
  ]);
});

test('a VM name with control characters cannot move the cursor', () => {
  const terminal = { columns: 80, rows: 12 };
  const model = new TerminalModel(terminal.columns, terminal.rows);
  const session = new TopSession(new TopTracker(), initialState({ intervalMs: 1000 }), PLAIN);
  session.push(
    sample(1, [vm({ key: 'e', name: 'evil\u001b[2J\u001b[H\nx\u009b1A', vcpus: [[counter('exits', 1n)]] })]),
  );
  model.write(session.draw(terminal));
  const shown = model.screen();
  assert.match(shown[0]!, /^hvkit top · /);
  assert.match(shown[3]!, /^evil\?\[2J\?\[H\?/, shown.join('\n'));
  assert.deepEqual(shown, expectedScreen(session, terminal));
});
