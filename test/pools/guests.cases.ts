/**
 * The `pools` guest tests, registered per backend (guests.test.ts: simulated, guests.kvm.test.ts:
 * real KVM). The `pools` guest (guest/pools, src/vmm/sim-pools.ts) against a real host server: a
 * v0 guest domain, a v1 guest domain and a guest of a version the host does not serve run AT THE
 * SAME TIME on one pool service, through real (KVM) or simulated VM exits. Checked: the guests'
 * reports (every byte verified, hits and misses as expected, the defined errors seen, the
 * unknown version running as if pools were off), each domain's `pool` group in its stats table,
 * and `hvkit ctl pools` spawned against the running host. A host without the pool family makes
 * the guest fall back to "pools off" through the feature query. On KVM the report sequences must
 * equal the simulated guest's. The v1 guest passes its 192-bit ids by reference (guest memory)
 * and some of its objects differ only in oid words 3..5: a host that keeps only 96 bits of an id
 * (what the five hypercall registers could carry before) makes it count byte errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { POOL_VERSION } from '../../src/formats/callword/constants.ts';
import { POOL_COUNTERS, type PoolCounterValues } from '../../src/formats/callword/pool.ts';
import { shippedStatsTableAbi } from '../../src/formats/stats-table/abi.ts';
import { StatsTableReader } from '../../src/formats/stats-table/reader.ts';
import type { CallInstaller } from '../../src/host/calls-host.ts';
import type { DomainInfo } from '../../src/host/host.ts';
import { fromVmmMemory } from '../../src/host/pools/guest-memory.ts';
import { poolCallInstaller } from '../../src/host/pools/host-binding.ts';
import { PoolService } from '../../src/host/pools/service.ts';
import { startHostServer } from '../../src/host/server.ts';
import { standardInstallers } from '../../src/host/services.ts';
import { openShmRegion } from '../../src/shm/shm-file.ts';
import { POOLS_OBJECTS, POOLS_OFF, POOLS_PAGES, REPORT } from '../../src/vmm/guest-abi.ts';
import { skipWithoutKvm } from '../kvm/helpers.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ROUNDS = 2;
/** A version no host serves: the guest's creates get not_supported and it runs with pools off. */
const UNKNOWN = 2;
/** Per round, both pools together. */
const PAGES = 2 * POOLS_OBJECTS * POOLS_PAGES;

interface GuestRun {
  domain: DomainInfo;
  /** The reports of vCPU 0, in order. */
  sequence: Array<[number, bigint]>;
  reports: Map<number, bigint>;
}

interface ServerRun {
  guests: GuestRun[];
  /** Per domain: the `pool` group of its stats table after the guest finished. */
  tables: Array<PoolCounterValues | undefined>;
  /** `hvkit ctl --host PID pools --json` and `… pools DOMID --json` while the host still served. */
  ctlAll: Array<{ domid: number; counters: PoolCounterValues; pools: number }>;
  ctlDomain: { domid: number; counters: PoolCounterValues; pools: number; poolList: unknown[] } | undefined;
}

async function hvkit(...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, ['bin/hvkit.mjs', ...args], { cwd: REPO, timeout: 60_000 });
  return JSON.parse(stdout);
}

/** Runs one domain per version, all at once, on a host of `backend`, to the guests' end. */
async function runGuests(
  backend: 'sim' | 'kvm',
  versions: number[],
  options: { installers?: CallInstaller[]; ctl?: boolean } = {},
): Promise<ServerRun> {
  const installers = options.installers ?? standardInstallers();
  const saved = process.env.HVKIT_BACKEND;
  process.env.HVKIT_BACKEND = backend;
  let server: Awaited<ReturnType<typeof startHostServer>>;
  try {
    server = await startHostServer({ installers });
  } finally {
    if (saved === undefined) delete process.env.HVKIT_BACKEND;
    else process.env.HVKIT_BACKEND = saved;
  }
  try {
    const events = new Map<number, Array<[number, bigint]>>();
    const stopped = new Map<number, () => void>();
    const failures: string[] = [];
    server.host.on((e) => {
      if (e.kind === 'guest' && e.event.kind === 'report' && e.event.vcpu === 0) {
        events.get(e.domain.domid)?.push([e.event.code, e.event.value]);
      } else if (e.kind === 'guest' && e.event.kind === 'crashed') failures.push(e.event.reason);
      else if (e.kind === 'shutdown') stopped.get(e.domain.domid)?.();
    });
    // Created paused, then all unpaused: the guests run at the same time on one pool service.
    const domains: DomainInfo[] = [];
    const done: Promise<void>[] = [];
    for (const version of versions) {
      const d = await server.host.createDomain({
        name: `pools-v${version}`,
        vcpus: 1,
        memoryMiB: 2,
        workload: 'compute',
        paused: true,
        vmm: { program: 'pools', rounds: ROUNDS, arg: version },
      });
      events.set(d.domid, []);
      done.push(new Promise((resolve) => stopped.set(d.domid, resolve)));
      domains.push(d);
    }
    for (const d of domains) await server.host.unpause(d.domid);
    await Promise.all(done);
    assert.deepEqual(failures, []);
    const tables = domains.map((d) => poolGroup(d.statsRegion));
    // The host serves in this process: the spawned CLI finds its control socket by our pid.
    const host = String(process.pid);
    const ctl = options.ctl !== false;
    const ctlAll = ctl ? ((await hvkit('ctl', '--host', host, 'pools', '--json')) as ServerRun['ctlAll']) : [];
    const ctlDomain = ctl
      ? ((await hvkit('ctl', '--host', host, 'pools', String(domains[0]!.domid), '--json')) as ServerRun['ctlDomain'])
      : undefined;
    const guests = domains.map((domain) => {
      const sequence = events.get(domain.domid)!;
      return { domain, sequence, reports: new Map(sequence) };
    });
    return { guests, tables, ctlAll, ctlDomain };
  } finally {
    await server.stop();
  }
}

function poolGroup(statsRegion: string): PoolCounterValues | undefined {
  const region = openShmRegion(statsRegion);
  try {
    const group = StatsTableReader.open(region, shippedStatsTableAbi())
      .read()
      .dom.groups.find((g) => g.name === 'pool');
    if (group?.state !== 'ok') return undefined;
    return Object.fromEntries(group.counters.map((c) => [c.name, Number(c.value)])) as PoolCounterValues;
  } finally {
    region.close();
  }
}

const usingPools = (rounds: number): PoolCounterValues => ({
  puts: rounds * PAGES,
  // Every page read back once, then each read again after its flush (a miss).
  gets: 2 * rounds * PAGES,
  hits: rounds * PAGES,
  misses: rounds * PAGES,
  evictions: 0,
  pages_held: 0,
  flushes: rounds * PAGES,
  refused: 0,
});
const noPools: PoolCounterValues = Object.fromEntries(POOL_COUNTERS.map((n) => [n, 0])) as PoolCounterValues;

function assertGuest(g: GuestRun, version: number, backend: 'sim' | 'kvm') {
  const r = (code: number) => g.reports.get(code);
  const what = `domain ${g.domain.domid} (pool ABI v${version})`;
  assert.equal(g.domain.backend, backend, `${what} ran on the backend asked for`);
  assert.equal(r(REPORT.DONE), BigInt(ROUNDS), `${what} ran to its end`);
  assert.equal(r(REPORT.POOL_ERRORS), 0n, `${what}: every answer and every byte as expected`);
  assert.equal(r(REPORT.POOL_LOST), 0n, `${what}: no ephemeral page lost under the default limits`);
  if (version === UNKNOWN) {
    assert.equal(r(REPORT.POOL_VERSION), BigInt(POOLS_OFF), `${what} runs as if pools were off`);
    assert.equal(r(REPORT.POOL_PUTS), 0n);
    assert.equal(r(REPORT.POOL_REFUSED), 2n, `${what}: reserved flag bit and unknown version refused`);
    return;
  }
  assert.equal(r(REPORT.POOL_VERSION), BigInt(version));
  assert.equal(r(REPORT.POOL_PUTS), BigInt(ROUNDS * PAGES));
  assert.equal(r(REPORT.POOL_HITS), BigInt(ROUNDS * PAGES), `${what}: every page came back byte for byte`);
  assert.equal(r(REPORT.POOL_MISSES), BigInt(ROUNDS * PAGES), `${what}: every flushed page missed`);
  assert.equal(r(REPORT.POOL_FLUSHED), BigInt(ROUNDS * PAGES));
  // Reserved flag bit (bad_argument), unknown version (not_supported), a destroyed pool (bad_argument).
  assert.equal(r(REPORT.POOL_REFUSED), 3n);
}

/** A broken host: it keys pages by the low `bits` of a by-reference id only. */
class TruncatingPoolService extends PoolService {
  constructor(readonly bits: bigint) {
    super();
  }
  override oidFromGuest(domid: number, poolId: number, gpa: bigint): bigint {
    return super.oidFromGuest(domid, poolId, gpa) & ((1n << this.bits) - 1n);
  }
}

const truncatingInstallers = (bits: bigint): CallInstaller[] => [
  poolCallInstaller(new TruncatingPoolService(bits), {
    memoryOf: (domain, host) => {
      const memory = host.guestMemory(domain.domid);
      return memory ? fromVmmMemory(memory) : undefined;
    },
  }),
];

/**
 * Registers the pools-guest tests on `backend`. On KVM the first test also runs the same guests on
 * the simulated backend, here, and requires the same report sequences.
 */
export function registerPoolsTests(backend: 'sim' | 'kvm'): void {
  describe(`pools guests on ${backend}`, () => {
    test('a v0, a v1 and an unknown-version guest share one pool service at the same time', async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const versions = [POOL_VERSION.v0, POOL_VERSION.v1, UNKNOWN];
      const out = await runGuests(backend, versions);
      for (const [i, v] of versions.entries()) assertGuest(out.guests[i]!, v, backend);

      // The pool group of each domain's stats table: the host's side of the same story.
      const expected = versions.map((v) => (v === UNKNOWN ? noPools : usingPools(ROUNDS)));
      assert.deepEqual(out.tables, expected);

      // `hvkit ctl pools --json`: the host total (domid 0) first, then each domain.
      const byDomid = new Map(out.ctlAll.map((s) => [s.domid, s]));
      assert.deepEqual(
        out.ctlAll.map((s) => s.domid),
        [0, ...out.guests.map((g) => g.domain.domid)],
      );
      out.guests.forEach((g, i) => {
        const s = byDomid.get(g.domain.domid)!;
        assert.deepEqual(s.counters, expected[i], `ctl pools agrees with domain ${g.domain.domid}'s stats table`);
        assert.equal(s.pools, 0, 'the guest destroyed its pools');
      });
      const total = Object.fromEntries(
        POOL_COUNTERS.map((n) => [n, expected.reduce((sum, c) => sum + c[n], 0)]),
      ) as PoolCounterValues;
      assert.deepEqual(byDomid.get(0)!.counters, total);
      const one = out.ctlDomain;
      assert.ok(one);
      assert.equal(one.domid, out.guests[0]!.domain.domid);
      assert.deepEqual(one.counters, expected[0]);
      assert.deepEqual(one.poolList, []);

      // KVM's guests must tell exactly what the simulated ones tell (run here as the reference).
      if (backend === 'kvm') {
        const sim = await runGuests('sim', versions, { ctl: false });
        out.guests.forEach((g, i) => {
          assert.deepEqual(g.sequence, sim.guests[i]!.sequence, `v${versions[i]}: same reports as the simulated guest`);
        });
      }
    });

    test('the upper bits of a v1 id matter: a host keeping 96 of 192 bits fails the v1 guest, not the v0 one', async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const out = await runGuests(backend, [POOL_VERSION.v0, POOL_VERSION.v1], {
        installers: truncatingInstallers(96n),
        ctl: false,
      });
      const [v0, v1] = out.guests;
      assertGuest(v0!, POOL_VERSION.v0, backend);
      assert.equal(v1!.reports.get(REPORT.DONE), BigInt(ROUNDS));
      assert.equal(v1!.reports.get(REPORT.POOL_VERSION), BigInt(POOL_VERSION.v1));
      assert.ok(
        (v1!.reports.get(REPORT.POOL_ERRORS) ?? 0n) > 0n,
        'objects differing only in oid words 3..5 were conflated, and the guest saw it',
      );
    });

    test('a host without the pool family: the feature query sends both versions on with pools off', async (t) => {
      if (backend === 'kvm' && skipWithoutKvm(t)) return;
      const out = await runGuests(backend, [POOL_VERSION.v0, POOL_VERSION.v1], { installers: [], ctl: false });
      for (const g of out.guests) {
        assert.equal(g.reports.get(REPORT.POOL_VERSION), BigInt(POOLS_OFF));
        assert.equal(g.reports.get(REPORT.POOL_REFUSED), 0n, 'no pool call was even tried');
        assert.equal(g.reports.get(REPORT.POOL_ERRORS), 0n);
        assert.equal(g.reports.get(REPORT.DONE), BigInt(ROUNDS));
      }
    });
  });
}
