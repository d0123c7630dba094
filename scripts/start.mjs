// `npm start`: install the dependencies when they are missing or stale, then run the main job.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  console.log('hvkit: installing dependencies (npm ci) …');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 2);
}
const run = spawnSync(process.execPath, ['bin/hvkit.mjs', 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
