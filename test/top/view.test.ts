import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { COLUMNS } from '../../src/tools/top/columns.ts';
import { describeEvent, eventsLine } from '../../src/tools/top/events.ts';
import { formatRate, pad, textWidth, truncate } from '../../src/tools/top/format.ts';
import { TopTracker } from '../../src/tools/top/frame.ts';
import { fitLayout, headerLine, rowLine } from '../../src/tools/top/layout.ts';
import { compileFilter, filterRows, parseSortColumn, sortRows } from '../../src/tools/top/order.ts';
import { formatPercentile } from '../../src/tools/top/percentiles.ts';
import { vmDisplayRow } from '../../src/tools/top/rows.ts';
import { renderScreen } from '../../src/tools/top/screen.ts';
import { initialState } from '../../src/tools/top/state.ts';
import { counter, event, log2Hist, NS, sample, shippedFieldId, vm } from './fixtures/samples.ts';

/** Three VMs, two vCPUs each, over two samples one second apart. */
function twoSamples() {
  const at = (t: number, scale: bigint) =>
    sample(t, [
      vm({
        key: 'k-web',
        name: 'web',
        pid: 300,
        domid: 3,
        uniqueId: 0xfedcba9876543210n,
        vcpus: [
          [
            counter('exits', 1000n * scale),
            counter('halt_exits', 10n * scale),
            log2Hist('vmm.exit_latency_hist', [0n, 0n, 90n * scale, 10n * scale, 0n]),
          ],
          [
            counter('exits', 500n * scale),
            counter('halt_exits', 0n),
            log2Hist('vmm.exit_latency_hist', [0n, 0n, 0n, 0n, 0n]),
          ],
        ],
      }),
      vm({
        key: 'k-db',
        name: 'db',
        pid: 200,
        domid: 1,
        vcpus: [[counter('exits', 7000n * scale)], [counter('exits', 0n)]],
      }),
      vm({ key: 'k-qemu', name: 'qemu-guest', pid: 100, owner: 'other', vcpus: [[counter('exits', 2n * scale)]] }),
    ]);
  const tracker = new TopTracker();
  tracker.push(at(0, 1n), 0);
  return tracker.push(at(1, 2n), 1000);
}

test('VM rows add up their vCPUs; latency p99 comes from the buckets of the last interval', () => {
  const frame = twoSamples();
  const web = frame.vms.find((v) => v.vm.key === 'k-web')!;
  assert.equal(web.metrics.rates.exits, 1500);
  assert.equal(web.metrics.rates.halt, 10);
  assert.equal(web.metrics.exitsTotal, 3000n);
  assert.equal(web.vcpus[0]!.metrics.rates.exits, 1000);
  // interval buckets: [0, 0, 90, 10] → p99 in bucket 3 = [4, 8) ns
  assert.equal(formatPercentile(web.metrics.latency!.p99, NS), '<8 ns');
  const hist = web.histograms.find((h) => h.name === 'vmm.exit_latency_hist')!;
  assert.equal(hist.view.interval?.total, 100n);
  assert.equal(hist.view.overall.total, 200n);
  assert.equal(formatPercentile(hist.view.interval?.p50, NS), '<4 ns');
  assert.deepEqual(web.history, [1500]);
});

test('I/O rates come from the VMM when both report them; exits from the kernel', () => {
  const s = (t: number, k: bigint, v: bigint) =>
    sample(t, [vm({ key: 'a', vcpus: [[counter('exits.io_exits', v, 'vmm'), counter('io_exits', k, 'kvm')]] })]);
  const tracker = new TopTracker();
  tracker.push(s(0, 0n, 0n));
  assert.equal(tracker.push(s(1, 0n, 40n)).vms[0]!.metrics.rates.io, 40);
  const kernelOnly = (t: number, k: bigint) => sample(t, [vm({ key: 'b', vcpus: [[counter('io_exits', k, 'kvm')]] })]);
  const t2 = new TopTracker();
  t2.push(kernelOnly(0, 0n));
  assert.equal(t2.push(kernelOnly(1, 9n)).vms[0]!.metrics.rates.io, 9, 'the kernel count when the VMM has none');
});

test('the kernel count is preferred over the VMM count of the same metric', () => {
  const s = (t: number, k: bigint, v: bigint) =>
    sample(t, [vm({ key: 'a', vcpus: [[counter('exits.exits_total', v, 'vmm'), counter('exits', k, 'kvm')]] })]);
  const tracker = new TopTracker();
  tracker.push(s(0, 0n, 0n));
  assert.equal(tracker.push(s(1, 50n, 7n)).vms[0]!.metrics.rates.exits, 50);
  const only = (t: number, v: bigint) =>
    sample(t, [vm({ key: 'b', vcpus: [[counter('exits.exits_total', v, 'vmm')]] })]);
  const t2 = new TopTracker();
  t2.push(only(0, 0n));
  assert.equal(t2.push(only(1, 7n)).vms[0]!.metrics.rates.exits, 7, 'the VMM count when the kernel has none');
});

test('VMM counters are found by field identity: a renamed field counts, a namesake of another group does not', () => {
  const ioExits = shippedFieldId('exits.io_exits')!;
  const decoy = { scope: 'vcpu', group: 2, offset: 168 } as const; // a later counter io.io_exits
  const s = (t: number, renamed: bigint, other: bigint) =>
    sample(t, [
      vm({
        key: 'a',
        vcpus: [
          [
            { ...counter('io.io_exits', other, 'vmm'), field: decoy },
            { ...counter('exits.port_io_exits', renamed, 'vmm'), field: ioExits },
          ],
        ],
      }),
    ]);
  const tracker = new TopTracker();
  tracker.push(s(0, 0n, 0n));
  assert.equal(tracker.push(s(1, 40n, 7n)).vms[0]!.metrics.rates.io, 40);
  const onlyNamesake = (t: number, v: bigint) =>
    sample(t, [vm({ key: 'b', vcpus: [[{ ...counter('io.io_exits', v, 'vmm'), field: decoy }]] })]);
  const t2 = new TopTracker();
  t2.push(onlyNamesake(0, 0n));
  assert.equal(t2.push(onlyNamesake(1, 7n)).vms[0]!.metrics.rates.io, undefined, 'no I/O column from a namesake');
});

test('run time counters become a percentage of wall time', () => {
  const s = (t: number, ns: bigint) =>
    sample(t, [
      vm({
        key: 'a',
        vcpus: [[counter('vmm.run_time_ns', ns, 'vmm', NS)], [counter('vmm.run_time_ns', ns / 2n, 'vmm', NS)]],
      }),
    ]);
  const tracker = new TopTracker();
  tracker.push(s(0, 0n));
  const f = tracker.push(s(2, 1_000_000_000n));
  assert.equal(f.vms[0]!.vcpus[0]!.metrics.rates.run, 50);
  assert.equal(f.vms[0]!.metrics.rates.run, 75);
});

test('sort by exits/s, by name and by a chosen column; unknown values last in both directions', () => {
  const rows = twoSamples().vms.map(vmDisplayRow);
  const names = (spec: Parameters<typeof sortRows>[1]) => sortRows(rows, spec).map((r) => r.name);
  assert.deepEqual(names({ column: 'exits', descending: true }), ['db', 'web', 'qemu-guest']);
  assert.deepEqual(names({ column: 'exits', descending: false }), ['qemu-guest', 'web', 'db']);
  assert.deepEqual(names({ column: 'name', descending: false }), ['db', 'qemu-guest', 'web']);
  assert.deepEqual(names({ column: 'pid', descending: false }), ['qemu-guest', 'db', 'web']);
  assert.deepEqual(names({ column: 'domid', descending: true }), ['web', 'db', 'qemu-guest']);
  assert.deepEqual(names({ column: 'domid', descending: false }), ['db', 'web', 'qemu-guest']);
  assert.deepEqual(parseSortColumn('EXITS/s'), { column: 'exits', descending: true });
  assert.deepEqual(parseSortColumn('name'), { column: 'name', descending: false });
  assert.equal(parseSortColumn('bogus'), undefined);
});

test('filter by name regex; an invalid regex is an error value, not an exception', () => {
  const rows = twoSamples().vms.map(vmDisplayRow);
  assert.deepEqual(
    filterRows(rows, compileFilter('^(web|DB)$')).map((r) => r.name),
    ['web', 'db'],
  );
  assert.equal(filterRows(rows, compileFilter('')).length, 3);
  const bad = compileFilter('([');
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.error, /invalid filter/);
  assert.equal(filterRows(rows, bad).length, 3, 'an invalid filter hides nothing');
  const state = initialState({ intervalMs: 1000, filter: '([' });
  const screen = renderScreen(twoSamples(), state, { columns: 100, rows: 40 });
  assert.ok(screen.some((l) => l.startsWith('invalid filter /([/')));
});

test('layout fits several widths: low-priority columns go first, names are cut with …', () => {
  const frame = twoSamples();
  const rows = frame.vms.map(vmDisplayRow);
  const long = { ...rows[0]!, name: 'a-very-long-virtual-machine-name-that-does-not-fit' };
  for (const width of [30, 40, 60, 80, 100, 120, 200]) {
    const layout = fitLayout(width, 'vm', 50);
    const ids = layout.columns.map((c) => c.id);
    assert.ok(ids.includes('name') && ids.includes('exits'), `name and exits stay at ${width}`);
    const line = rowLine(long, layout, width);
    assert.ok([...line].length <= width, `row fits in ${width}: ${line}`);
    assert.ok([...headerLine(layout, width)].length <= width);
    assert.ok(line.includes('…'), 'long name is truncated');
    // Every dropped column has a higher priority number than every kept one.
    const kept = Math.max(...layout.columns.filter((c) => c.id !== 'exits').map((c) => c.priority));
    for (const c of COLUMNS.filter((c) => c.levels.includes('vm') && !ids.includes(c.id))) assert.ok(c.priority > kept);
  }
  assert.equal(fitLayout(200, 'vm', 10).columns.length, COLUMNS.filter((c) => c.levels.includes('vm')).length);
  assert.deepEqual(
    fitLayout(30, 'vm', 10).columns.map((c) => c.id),
    ['name', 'pid', 'exits'],
  );
  assert.ok(!fitLayout(200, 'vcpu', 10).columns.some((c) => c.id === 'pid'), 'vCPU level has no pid column');
  assert.equal(truncate('abcdef', 4), 'abc…');
  assert.equal(truncate('abc', 4), 'abc');
});

test('whole screens at several widths never exceed the width', () => {
  const frame = twoSamples();
  for (const columns of [20, 45, 80, 132]) {
    for (const level of ['vm', 'vcpu'] as const) {
      const state = { ...initialState({ intervalMs: 500 }), level, selected: 'k-web' };
      const lines = renderScreen(frame, state, { columns, rows: 30 }, { interactive: true });
      for (const l of lines) assert.ok([...l].length <= columns, `${columns}/${level}: "${l}"`);
    }
  }
});

test('screen rows are limited to the terminal height with a "more" line', () => {
  const many = Array.from({ length: 30 }, (_, i) =>
    vm({ key: `k${i}`, name: `vm${i}`, vcpus: [[counter('exits', BigInt(i))]] }),
  );
  const frame = new TopTracker().push(sample(0, many));
  const lines = renderScreen(
    frame,
    initialState({ intervalMs: 1000 }),
    { columns: 100, rows: 12 },
    { interactive: true },
  );
  assert.equal(lines.length, 12);
  assert.ok(lines.some((l) => /… \d+ more/.test(l)));
});

test('vCPU drill-down shows the vCPUs of one VM and its histogram percentiles', () => {
  const state = { ...initialState({ intervalMs: 1000 }), level: 'vcpu' as const, selected: 'k-web' };
  const text = renderScreen(twoSamples(), state, { columns: 120, rows: 40 }).join('\n');
  assert.match(text, /VM web \(pid 300, domid 3, unique id fedcba9876543210, hvkit/);
  assert.match(text, /vcpu 0 +1000/);
  assert.match(text, /vcpu 1 +500/);
  assert.match(text, /vmm\.exit_latency_hist +<4 ns +<4 ns +<8 ns +<4 ns +<4 ns +<8 ns/);
  assert.doesNotMatch(text, /qemu-guest/);
  const gone = renderScreen(twoSamples(), { ...state, selected: 'nope' }, { columns: 120, rows: 40 }).join('\n');
  assert.match(gone, /selected VM is gone/);
});

test('lifecycle line: newest first, domid reuse with old and new unique id, cut to the width', () => {
  const t = Date.UTC(2024, 0, 1, 12, 0, 0);
  const events = [
    event('domid-reused', 'k2', 'domid 3: unique id 00000000000000aa → 00000000000000bb', t + 2000),
    event('destroyed', 'k1', 'domid 3 (web)', t + 1000),
    event('created', 'k0', 'domid 3 (web)', t),
  ];
  const line = eventsLine(events, 400);
  assert.match(line, /^events: \d\d:\d\d:\d\d domid reused: domid 3: unique id 00000000000000aa → 00000000000000bb │ /);
  assert.ok(line.indexOf('destroyed') < line.indexOf('created'));
  const narrow = eventsLine(events, 60);
  assert.ok([...narrow].length <= 60);
  assert.ok(!narrow.includes('destroyed'), 'older events that do not fit are left out');
  assert.equal(eventsLine([], 80), 'events: none yet');
  assert.match(describeEvent(event('vanished', 'k', '')), /vanished$/);

  // The tracker keeps recent events across samples, newest first.
  const tracker = new TopTracker({ eventLimit: 2 });
  tracker.push(sample(0, [], [events[2]!]));
  tracker.push(sample(1, [], [events[1]!]));
  const f = tracker.push(sample(2, [], [events[0]!]));
  assert.deepEqual(
    f.recentEvents.map((e) => e.kind),
    ['domid-reused', 'destroyed'],
  );
});

test('rates are compact', () => {
  assert.equal(formatRate(undefined), '-');
  assert.equal(formatRate(0), '0');
  assert.equal(formatRate(3.25), '3.3');
  assert.equal(formatRate(12345), '12345');
  assert.equal(formatRate(1_234_567), '1.23M');
});

test('screen text is printable and measured in terminal columns: nothing is wider than asked', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 30 }), (text, width) => {
      const cut = truncate(text, width);
      assert.ok(textWidth(cut) <= width, `${JSON.stringify(cut)} fits ${width}`);
      assert.doesNotMatch(cut, /\p{Cc}/u, 'no control character reaches the terminal');
      assert.equal(textWidth(pad(text, width, 'left')), width);
    }),
  );
  assert.equal(truncate('虚拟机名', 5), '虚拟…', 'wide characters take two columns');
  assert.equal(textWidth('虚拟机'), 6);
  assert.equal(truncate('a\u001b[2Jb', 10), 'a?[2Jb');
});
