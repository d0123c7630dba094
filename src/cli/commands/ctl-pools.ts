/**
 * `hvkit ctl pools [DOMID]`: page-pool counters of the host (no DOMID) or of one domain, with
 * that domain's pools. A CtlExtension: pass it to registerCtl's extensions.
 */
import type { Command } from 'commander';
import { listDomains } from '../../ctl/api.ts';
import { poolList, poolStats } from '../../ctl/pools.ts';
import { POOL_COUNTERS } from '../../formats/callword/pool.ts';
import { EXIT_OK } from '../errors.ts';
import { printJson, renderTable } from '../output.ts';
import { DOMID, parseDomid } from './args.ts';
import type { CtlExtension } from './ctl.ts';

export const ctlPools: CtlExtension = (ctl: Command, kit) => {
  ctl
    .command('pools [domid]')
    .description('page-pool counters of every domain (or of one, with its pools)')
    .option('--json', 'print JSON')
    .action((domid: string | undefined, opts: { json?: boolean }, command: Command) => {
      // Checked before connecting: a bad DOMID is a usage error whether or not a host runs.
      const id = domid === undefined ? undefined : parseDomid(domid, { ...DOMID, min: 0 });
      return kit.run(command, async (client) => {
        if (id !== undefined) {
          const stats = await poolStats(client, id);
          const pools = await poolList(client, id);
          if (opts.json) printJson({ ...stats, poolList: pools });
          else {
            const rows = pools.map((p) => [
              String(p.poolId),
              `v${p.version}`,
              p.persistent ? 'persistent' : 'ephemeral',
              String(p.pages),
              String(p.slabBytes),
            ]);
            process.stdout.write(`${renderTable(['POOL', 'ABI', 'KIND', 'PAGES', 'SLAB(B)'], rows)}\n`);
            process.stdout.write(`${POOL_COUNTERS.map((n) => `${n}=${stats.counters[n]}`).join(' ')}\n`);
          }
          return EXIT_OK;
        }
        const domains = await listDomains(client);
        const all = [
          await poolStats(client, 0),
          ...(await Promise.all(domains.map((d) => poolStats(client, d.domid)))),
        ];
        if (opts.json) printJson(all);
        else {
          const rows = all.map((s) => [
            s.domid === 0 ? 'host' : String(s.domid),
            String(s.pools),
            ...POOL_COUNTERS.map((n) => String(s.counters[n])),
          ]);
          process.stdout.write(
            `${renderTable(['DOMID', 'POOLS', ...POOL_COUNTERS.map((n) => n.toUpperCase())], rows)}\n`,
          );
        }
        return EXIT_OK;
      });
    });
};
