/**
 * Which of the exporter's point labels describe the VM (OTLP resource attributes) and what they
 * are called there: OpenTelemetry semantic conventions where one exists (host.name, process.pid,
 * process.executable.name, process.command), hvkit's own `hvkit.` namespace for the VM identity.
 * Labels not named here (e.g. `vcpu`) stay on the data point.
 *
 * The label names are the exporter's convention, shared with the Prometheus mapping: `vm`,
 * `vm_key`, `pid`, `domid`, `unique_id`, `owner` identify the VM; `vcpu` is a point label.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { isErrno } from '../../errors.ts';
import type { Label } from '../../formats/exposition/model.ts';
import type { OtlpAttribute, OtlpResourceMapping } from '../../formats/exposition/otlp.ts';
import { PROC, readCmdline, readProcessIdentity } from '../../os/procfs.ts';

type AttributeOf = (value: string) => OtlpAttribute;

const asInt =
  (key: string): AttributeOf =>
  (value) =>
    /^-?\d+$/.test(value) ? [key, BigInt(value)] : [key, value];
const asString =
  (key: string): AttributeOf =>
  (value) => [key, value];

/** Point label → resource attribute. */
export const VM_RESOURCE_LABELS: ReadonlyMap<string, AttributeOf> = new Map([
  ['vm', asString('hvkit.vm.name')],
  ['vm_key', asString('hvkit.vm.key')],
  ['owner', asString('hvkit.vm.owner')],
  ['pid', asInt('process.pid')],
  ['domid', asInt('hvkit.domid')],
  ['unique_id', asString('hvkit.unique_id')],
]);

/** How many processes' names are remembered (VMs come and go; the names are read once each). */
const PROCESS_CACHE_LIMIT = 4096;

export interface HvkitResourceOptions {
  hostName?: string;
  /** /proc, or a copy of it for tests. */
  proc?: string;
}

export function hvkitResourceMapping(options: HvkitResourceOptions = {}): OtlpResourceMapping {
  const proc = options.proc ?? PROC;
  const processes = new Map<string, readonly OtlpAttribute[]>();
  return {
    resourceAttribute([name, value]: Label) {
      return VM_RESOURCE_LABELS.get(name)?.(value);
    },
    common: [['host.name', options.hostName ?? hostname()]],
    extra(resource) {
      const pid = resource.find(([key]) => key === 'process.pid')?.[1];
      if (typeof pid !== 'bigint') return [];
      // A VM's key changes when its process does (a reused pid gets a new key), so it keys the cache.
      const key = JSON.stringify(resource.map(([k, v]) => [k, String(v)]));
      let found = processes.get(key);
      if (found === undefined) {
        found = processAttributes(Number(pid), proc);
        if (processes.size >= PROCESS_CACHE_LIMIT) processes.clear();
        processes.set(key, found);
      }
      return found;
    },
  };
}

/**
 * process.executable.name is the base name of /proc/PID/exe, as the conventions ask, or, when that
 * link is not ours to read (it needs ptrace rights over the VMM), the kernel's name for the process
 * (comm, at most 15 bytes; what older conventions asked for); process.command is the first word
 * of its command line. The arguments are not sent: a VMM's command line can carry secrets.
 * Nothing when the process is gone.
 */
function processAttributes(pid: number, proc: string): OtlpAttribute[] {
  const out: OtlpAttribute[] = [];
  const executable = executableName(pid, proc) ?? readProcessIdentity(pid, proc)?.comm;
  if (executable !== undefined) out.push(['process.executable.name', executable]);
  const command = readCmdline(pid, proc)?.[0];
  if (command !== undefined && command !== '') out.push(['process.command', command]);
  return out;
}

function executableName(pid: number, proc: string): string | undefined {
  try {
    // An executable replaced since the process started reads "/usr/bin/qemu (deleted)".
    return basename(readlinkSync(`${proc}/${pid}/exe`).replace(/ \(deleted\)$/, ''));
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) return undefined;
    throw e;
  }
}

/** The instrumentation scope: hvkit and its version from package.json. */
export function hvkitScope(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return { name: 'hvkit', version: pkg.version };
}
