// Whether /dev/kvm is usable here, asked of src/kvm/system.ts in a child (these runners are plain
// JavaScript; tsx loads the TypeScript): { reason: why not, or null; vendor: module or null }.
import { spawnSync } from 'node:child_process';

export function probeKvm() {
  const probe = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./src/kvm/system.ts').then((m) => console.log(JSON.stringify({ reason: m.kvmUnavailableReason() ?? null, vendor: m.kvmVendorModule() ?? null })))",
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0) return { reason: `the KVM probe failed: ${probe.stderr.trim()}`, vendor: null };
  return JSON.parse(probe.stdout);
}
