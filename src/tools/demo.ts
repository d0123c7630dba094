/**
 * `hvkit demo` — the main job: a host with four micro-VMs of two vCPUs each running different
 * workloads, one of them destroyed and re-created periodically (its domid comes back with a new
 * unique id), all shown live in `hvkit top`. Quitting top (q, Ctrl-C) or a signal stops the
 * host, which destroys every domain and removes every region it published under /dev/shm.
 */

import type { SampleSource } from '../attach/sample.ts';
import { AttachSession } from '../attach/session.ts';
import type { Endpoint } from '../host/migration/endpoint.ts';
import { startHostServer } from '../host/server.ts';
import { standardInstallers } from '../host/services.ts';
import { uniqueIdHex } from '../shm/region-names.ts';
import type { Workload } from '../vmm/backend.ts';
import { ExpositionCollector } from './export/collector.ts';
import { type ExportServer, startExportServer } from './export/server.ts';
import { runTop, type TopIo, type TopOptions } from './top/run.ts';
import { startWebView, type WebView } from './web/view.ts';

export interface DemoDomain {
  name: string;
  workload: Workload;
  /** Destroyed and re-created every `recreateEveryMs`. */
  cycles?: boolean;
}

export const DEMO_DOMAINS: readonly DemoDomain[] = [
  { name: 'compute', workload: 'compute' },
  { name: 'io', workload: 'io' },
  { name: 'mixed', workload: 'mixed' },
  { name: 'cycler', workload: 'compute', cycles: true },
];

export interface DemoOptions {
  vcpus: number;
  memoryMiB: number;
  recreateEveryMs: number;
  /** How the view runs; `count` bounds the demo when set. */
  top: TopOptions;
  /** Only show this host's VMs (default: every KVM VM on the machine, like `hvkit top`). */
  ownVmsOnly: boolean;
  /** Serve the web view (and /metrics) here; none when absent. */
  web?: Endpoint;
}

export type DemoLog = (line: string) => void;

export async function runDemo(options: DemoOptions, io: TopIo, log: DemoLog): Promise<number> {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  // Until top takes over the terminal, a Ctrl-C only asks the setup to stop; cleanup always runs.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const server = await startHostServer({ installers: standardInstallers() });
  const host = server.host;
  let timer: NodeJS.Timeout | undefined;
  let recreating: Promise<void> | undefined;
  let web: { view: WebView; server?: ExportServer; collector: ExpositionCollector } | undefined;
  try {
    log(
      `hvkit demo: ${host.backend.kind} backend (${host.backendReason}); domain directory /dev/shm/${host.directoryRegion}`,
    );
    if (host.removedStale.length > 0) log(`removed ${host.removedStale.length} stale region(s) of dead hosts`);
    const create = (d: DemoDomain) =>
      host.createDomain({ name: d.name, vcpus: options.vcpus, memoryMiB: options.memoryMiB, workload: d.workload });
    const cycler = new Map<string, number>();
    for (const d of DEMO_DOMAINS) {
      if (interrupted) return 130;
      const info = await create(d);
      if (d.cycles) cycler.set(d.name, info.domid);
      log(`created ${d.name}: domid ${info.domid}, unique id ${uniqueIdHex(info.uniqueId)}`);
    }
    timer = setInterval(() => {
      if (recreating || interrupted) return;
      recreating = (async () => {
        for (const d of DEMO_DOMAINS.filter((x) => x.cycles)) {
          const domid = cycler.get(d.name);
          if (domid !== undefined) await host.destroy(domid);
          const info = await create(d);
          cycler.set(d.name, info.domid);
        }
      })()
        .catch((error: unknown) => log(`re-creating a domain failed: ${(error as Error).message}`))
        .finally(() => {
          recreating = undefined;
        });
    }, options.recreateEveryMs);
    if (interrupted) return 130;
    const session = new AttachSession(options.ownVmsOnly ? { pids: [process.pid] } : {});
    let source: SampleSource = session;
    let top = options.top;
    if (options.web) {
      // One attach session: top's samples feed the page too (a scrape of /metrics adds its own).
      const collector = new ExpositionCollector(session);
      const view = startWebView(collector, { intervalMs: null });
      web = { view, collector };
      web.server = await startExportServer(collector, options.web, view.routes);
      log(`hvkit demo: web view at ${web.server.origin}`);
      top = { ...top, note: `web view: ${web.server.origin}` };
      source = {
        sample: () => {
          const sample = session.sample();
          view.state.push(sample);
          return sample;
        },
        close: () => session.close(),
      };
    }
    return await runTop(source, top, io);
  } finally {
    if (web) {
      web.view.close();
      await web.server?.close();
      web.collector.close();
    }
    if (timer) clearInterval(timer);
    // A re-creation in flight finishes first, so stopping the host sees (and destroys) its domain.
    await recreating;
    await server.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log('hvkit demo: stopped every domain and removed its regions');
  }
}
