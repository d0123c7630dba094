/**
 * Shared by the stream tests: hosts over the simulated or the KVM backend, the reports each
 * domain's vCPUs sent (from the host's events), waiting for them or for them to settle, and temp
 * directories.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, type HostEvent } from '../../src/host/host.ts';
import type { Backend } from '../../src/vmm/backend.ts';
import { REPORT } from '../../src/vmm/guest-abi.ts';
import { KvmBackend } from '../../src/vmm/kvm-backend.ts';
import { SimBackend } from '../../src/vmm/sim-backend.ts';

export type BackendName = 'sim' | 'kvm';

export function openTestBackend(name: BackendName): Backend {
  return name === 'kvm' ? KvmBackend.open() : new SimBackend();
}

/** A host that records every report by domid and vCPU. */
export class TestHost {
  readonly host: Host;
  readonly events: HostEvent[] = [];
  readonly #waiters: (() => void)[] = [];

  constructor(backend: BackendName) {
    this.host = Host.start({ backend: openTestBackend(backend), ownsBackend: true });
    this.host.on((e) => {
      this.events.push(e);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** The reports vCPU `vcpu` of the domain with unique id `domid` sent, in order, as [code, value]. */
  reports(domid: bigint, vcpu: number): Array<[number, bigint]> {
    return this.events.flatMap((e) =>
      e.kind === 'guest' && e.domain.uniqueId === domid && e.event.kind === 'report' && e.event.vcpu === vcpu
        ? [[e.event.code, e.event.value] as [number, bigint]]
        : [],
    );
  }

  /** Resolves once `ok()` holds (checked after each host event), or rejects after `ms`. */
  until(ok: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => {
        if (ok()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Waits until every vCPU of `domid` reported at least `n` rounds. */
  rounds(domid: bigint, vcpus: number, n: number): Promise<void> {
    return this.until(
      () =>
        Array.from({ length: vcpus }, (_, v) => this.reports(domid, v)).every(
          (r) => r.filter(([c]) => c === REPORT.ROUND).length >= n,
        ),
      20_000,
      `${n} rounds of domain ${domid}`,
    );
  }

  /**
   * Waits until domain `domid` shut down: its first vCPU to finish (DONE) stops the domain, so
   * the other vCPUs' sequences may end a little earlier.
   */
  shutdown(domid: bigint): Promise<void> {
    return this.until(
      () => this.events.some((e) => e.kind === 'shutdown' && e.domain.uniqueId === domid),
      30_000,
      `domain ${domid} to finish`,
    );
  }

  stop(): Promise<void> {
    return this.host.stop();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the domain's events stopped arriving for a while: reports sent before a pause or a
 * destroy may still be on their way when the call returns (a paused domain sends none). With a
 * generous overall deadline.
 */
export async function reportsSettled(h: TestHost, uniqueId: bigint, quietMs = 300, maxMs = 30_000): Promise<void> {
  const count = () => h.events.filter((e) => e.kind === 'guest' && e.domain.uniqueId === uniqueId).length;
  const end = Date.now() + maxMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < end) {
    await sleep(50);
    const n = count();
    if (n !== last) [last, since] = [n, Date.now()];
    else if (Date.now() - since >= quietMs) return;
  }
  throw new Error(`the reports of domain ${uniqueId} did not settle within ${maxMs} ms`);
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'hvkit-stream-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
