/**
 * Identity of one time series of `hvkit top`: a statistic of one VM, either VM-wide or of one vCPU.
 * Keys only ever compare equal within one VM key, so a restarted VM (new key) starts fresh series.
 */

/** `'vm'` for VM-level statistics, the vCPU index otherwise. */
export type Scope = 'vm' | number;

/** A key no VM key, scope or stat name can collide into (NUL never appears in them). */
export function seriesKey(vmKey: string, scope: Scope, name: string): string {
  return `${vmKey}\u0000${scope}\u0000${name}`;
}
