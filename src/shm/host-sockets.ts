import { join } from 'node:path';
import { processLiveness } from '../os/procfs.ts';
import { type HostIdentity, hostPrefix, parseRegionName } from './region-names.ts';
import { listShmNames, SHM_DIR } from './shm-file.ts';

export const CONTROL_SOCKET_SUFFIX = 'ctl';

export function controlSocketName(host: HostIdentity): string {
  return `${hostPrefix(host)}.${CONTROL_SOCKET_SUFFIX}`;
}

export interface RunningHostSocket {
  pid: number;
  startTime: bigint;
  path: string;
}

/** Control sockets under `dir` whose host process is alive, by pid. */
export function findControlSockets(dir = SHM_DIR): RunningHostSocket[] {
  const names = listShmNames(dir);
  const out: RunningHostSocket[] = [];
  for (const name of names) {
    const parsed = parseRegionName(name);
    if (parsed?.kind !== 'other' || parsed.rest !== CONTROL_SOCKET_SUFFIX) continue;
    if (processLiveness(parsed.pid, parsed.startTime) === 'dead') continue;
    out.push({ pid: parsed.pid, startTime: parsed.startTime, path: join(dir, name) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
