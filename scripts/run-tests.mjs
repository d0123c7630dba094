// `npm test`: type check, lint, then every test file under test/ with node's test runner (through
// tsx; Node 20 does not expand globs for --test, so the files are listed here).
//
// Tests that need /dev/kvm live in *.kvm.test.ts files. Where /dev/kvm is usable they run here with
// the rest. Where it is not, the rest run here and the KVM files run in the KVM lane (an emulated
// guest with kvm_amd, scripts/kvm-lane.ts). Either way a KVM test never skips: the runner sets
// HVKIT_REQUIRE_KVM=1, which turns "KVM not usable" into a failure, and refuses any skip whose
// reason is KVM. The last line sums both passes.
//
// Usage: node scripts/run-tests.mjs [--no-lane | --kvm-only] [--summary FILE] [substring …]
//   --no-lane     never boot the lane: KVM files run only if /dev/kvm is usable here (says how
//                 many were left out otherwise)
//   --kvm-only    run only the KVM files (in the lane when /dev/kvm is not usable here)
//   --summary F   also write the merged summary as JSON to F
// Environment: HVKIT_LANE_TIMEOUT (seconds, default 3600) bounds the lane's run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { probeKvm } from './test/kvm-probe.mjs';

const REPORTER = 'scripts/test/summary-reporter.mjs';
const KVM_SUFFIX = '.kvm.test.ts';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function parse(argv) {
  const opts = { noLane: false, kvmOnly: false, summary: undefined, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-lane') opts.noLane = true;
    else if (a === '--kvm-only') opts.kvmOnly = true;
    else if (a === '--summary') opts.summary = argv[++i];
    else if (a.startsWith('--')) {
      console.error(`run-tests: unknown option ${a}`);
      process.exit(2);
    } else opts.filters.push(a);
  }
  if (opts.noLane && opts.kvmOnly) {
    console.error('run-tests: --no-lane and --kvm-only exclude each other');
    process.exit(2);
  }
  if (opts.summary === '') opts.summary = undefined;
  return opts;
}

function checks() {
  const run = (args, what) => {
    const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(what);
      process.exit(1);
    }
  };
  run(['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], 'type check failed');
  run(
    ['node_modules/@biomejs/biome/bin/biome', 'check', '.'],
    'lint/format check failed (npx biome check --write . fixes most of it)',
  );
}

const emptySummary = () => ({ tests: 0, pass: 0, fail: 0, skipped: 0, todo: 0, skips: [], failures: [] });

function readSummary(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Runs the files here under node's test runner; returns its exit status and summary. */
function runHere(files, scratch) {
  const summaryFile = join(scratch, `summary-${process.pid}-${Date.now()}.json`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=./${REPORTER}`,
      `--test-reporter-destination=${summaryFile}`,
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, HVKIT_REQUIRE_KVM: '1' } },
  );
  return { status: r.status ?? 1, summary: readSummary(summaryFile) };
}

/** Runs the KVM files in the lane's guest; the inner runner writes its summary into the project. */
function runInLane(files) {
  const dir = resolve('build', 'test-summaries');
  mkdirSync(dir, { recursive: true });
  const summaryFile = join(dir, `lane-${process.pid}-${Date.now()}.json`);
  const timeout = process.env.HVKIT_LANE_TIMEOUT ?? '3600';
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/kvm-lane.ts',
      '--timeout',
      timeout,
      '--',
      process.execPath,
      'scripts/run-tests.mjs',
      '--kvm-only',
      '--summary',
      summaryFile,
      ...files,
    ],
    { stdio: 'inherit' },
  );
  const summary = readSummary(summaryFile);
  rmSync(summaryFile, { force: true });
  return { status: r.status ?? 1, summary };
}

function merge(a, b) {
  const out = emptySummary();
  for (const s of [a, b]) {
    if (!s) continue;
    for (const k of ['tests', 'pass', 'fail', 'skipped', 'todo']) out[k] += s[k];
    out.skips.push(...s.skips);
    out.failures.push(...s.failures);
  }
  return out;
}

const opts = parse(process.argv.slice(2));
const all = collect('test');
const selected = all.filter((f) => opts.filters.length === 0 || opts.filters.some((s) => f.includes(s)));
const kvmFiles = selected.filter((f) => f.endsWith(KVM_SUFFIX));
const hostFiles = opts.kvmOnly ? [] : selected.filter((f) => !f.endsWith(KVM_SUFFIX));
const wantKvm = kvmFiles;
if (hostFiles.length + wantKvm.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(2);
}
if (opts.filters.length === 0 && !opts.kvmOnly) checks();

const kvm = probeKvm();
const scratch = mkdtempSync(join(tmpdir(), 'hvkit-tests-'));
let status = 0;
let host;
let lane;
let notRun = 0;
try {
  if (kvm.reason === null) {
    const here = runHere([...hostFiles, ...wantKvm], scratch);
    status = here.status;
    host = here.summary;
  } else {
    if (hostFiles.length > 0) {
      const here = runHere(hostFiles, scratch);
      status = here.status;
      host = here.summary;
    }
    if (wantKvm.length > 0 && opts.noLane) notRun = wantKvm.length;
    else if (wantKvm.length > 0) {
      if (process.env.HVKIT_IN_LANE === '1') {
        console.error(`run-tests: inside the lane and still no usable /dev/kvm: ${kvm.reason}`);
        process.exit(1);
      }
      console.log(
        `\nrun-tests: /dev/kvm is not usable here (${kvm.reason}); ${wantKvm.length} KVM test files run in the KVM lane`,
      );
      lane = runInLane(wantKvm);
      if (lane.status !== 0) status = status || lane.status;
      if (!lane.summary) {
        console.error('run-tests: the KVM lane returned no test summary');
        status = status || 1;
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const total = merge(host, lane?.summary);
const forKvm = total.skips.filter((s) => /kvm/i.test(s.reason));
if (forKvm.length > 0) {
  console.error(`run-tests: ${forKvm.length} test(s) skipped for lack of KVM; every KVM test must run:`);
  for (const s of forKvm) console.error(`  ${s.file}: ${s.name}: ${s.reason}`);
  status = status || 1;
}
// A test of a real server (Prometheus …) that skips because the server is not installed is a test
// that does not exist: such skips say "missing tool:" and fail the run like KVM's.
const forTools = total.skips.filter((s) => /^missing tool:/.test(s.reason));
if (forTools.length > 0) {
  console.error(`run-tests: ${forTools.length} test(s) skipped for a missing tool (.ci/run installs them):`);
  for (const s of forTools) console.error(`  ${s.file}: ${s.name}: ${s.reason}`);
  status = status || 1;
}
if (opts.summary) writeFileSync(opts.summary, JSON.stringify({ ...total, vendor: kvm.vendor }));

const laneVendor = lane?.summary?.vendor;
const parts = [];
if (kvm.reason === null) parts.push(`${total.tests} here (KVM: ${kvm.vendor ?? 'usable'})`);
else {
  if (host) parts.push(`${host.tests} on the host`);
  if (lane?.summary) parts.push(`${lane.summary.tests} inside the KVM lane (emulated, ${laneVendor ?? 'kvm'})`);
}
if (lane && (lane.status !== 0 || !lane.summary)) {
  parts.push(`the KVM lane failed (exit ${lane.status}${lane.summary ? '' : ', no summary'})`);
}
console.log(
  `\nhvkit tests: ${parts.join(' + ')}: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped (${forKvm.length} for lack of KVM)` +
    (notRun > 0 ? `; ${notRun} KVM test files not run (--no-lane, and /dev/kvm is not usable here)` : ''),
);
for (const f of total.failures) console.log(`  failed: ${f.file}: ${f.name}`);
process.exit(status);
