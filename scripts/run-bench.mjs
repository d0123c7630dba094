// `npm run bench`: runs every benchmark under bench/ (or those matching the given substrings) one
// after another through tsx, so each file measures in a fresh process.
//
// Benchmarks that need /dev/kvm are named *.kvm.bench.ts. Where /dev/kvm is not usable they run in
// the KVM lane (scripts/kvm-lane.ts): an emulated CPU, so their absolute times are the emulator's
// and only the ratios each benchmark measures in the same run mean anything.
//
// Usage: node scripts/run-bench.mjs [--kvm-only | --host-only] [substring …]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { probeKvm } from './test/kvm-probe.mjs';

const args = process.argv.slice(2);
const kvmOnly = args.includes('--kvm-only');
const hostOnly = args.includes('--host-only');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const isKvm = (f) => f.endsWith('.kvm.bench.ts');

const why = probeKvm().reason ?? undefined;
const here = files.filter((f) => (isKvm(f) ? !hostOnly && why === undefined : !kvmOnly));
const inLane = why === undefined || hostOnly ? [] : files.filter(isKvm);
if (here.length + inLane.length === 0) {
  console.error('run-bench: no benchmark matched');
  process.exit(2);
}
if (kvmOnly && why !== undefined && process.env.HVKIT_IN_LANE === '1') {
  console.error(`run-bench: inside the lane and still no usable /dev/kvm: ${why}`);
  process.exit(1);
}

let failed = 0;
for (const file of here) {
  console.log(`\n=== bench/${file}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `bench/${file}`], { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
if (inLane.length > 0) {
  console.log(`\n=== ${inLane.length} KVM benchmarks in the KVM lane (/dev/kvm is not usable here: ${why})`);
  console.log(
    '    absolute times there are EMULATED (QEMU TCG, nested kvm_amd); only the same-run ratios mean anything',
  );
  const lane = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/kvm-lane.ts',
      '--timeout',
      process.env.HVKIT_LANE_TIMEOUT ?? '3600',
      '--',
      process.execPath,
      'scripts/run-bench.mjs',
      '--kvm-only',
      ...inLane,
    ],
    { stdio: 'inherit' },
  );
  if (lane.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
