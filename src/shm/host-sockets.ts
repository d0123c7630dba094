/**
 * Where hosts' control sockets live and how tools find them: `/dev/shm/hvkit.<pid>.<start>.ctl`,
 * named like the host's regions (region-names.ts), so a dead host's socket is told from a live
 * one by its pid and start time. The host (src/host/control-socket.ts) listens there; the tools
 * (src/ctl/client.ts) look there.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from '../errors.ts';
import { processLiveness } from '../os/procfs.ts';
import { type HostIdentity, hostPrefix, parseRegionName } from './region-names.ts';
import { SHM_DIR } from './shm-file.ts';

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
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'EACCES')) return []; // no /dev/shm here, or not ours to list
    throw e;
  }
  const out: RunningHostSocket[] = [];
  for (const name of names) {
    const parsed = parseRegionName(name);
    if (parsed?.kind !== 'other' || parsed.rest !== CONTROL_SOCKET_SUFFIX) continue;
    if (processLiveness(parsed.pid, parsed.startTime) === 'dead') continue;
    out.push({ pid: parsed.pid, startTime: parsed.startTime, path: join(dir, name) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
