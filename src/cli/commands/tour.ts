import type { Command } from 'commander';
import { MAX_CAPTURE_VCPUS } from '../../kvm/index.ts';
import { runTour } from '../../tools/tour.ts';
import { color, renderTable } from '../output.ts';
import { parseInteger } from './args.ts';

export function registerTour(program: Command, setExit: (code: number) => void): void {
  program
    .command('tour')
    .description('a guided tour on real parts: ABI checks, a real KVM VM’s stats, a live stats table in /dev/shm')
    .option('--vcpus <n>', 'vCPUs of the throwaway VM', '2')
    .action(async (opts: { vcpus: string }) => {
      const code = await runTour(
        {
          section: (title) => process.stdout.write(`\n${color.bold(color.cyan(title))}\n`),
          line: (text) => process.stdout.write(`${text}\n`),
          table: (t) =>
            process.stdout.write(`${t.title}\n${renderTable(t.table.header, t.table.rows, t.table.align)}\n`),
        },
        { vcpus: parseInteger('--vcpus', opts.vcpus, { min: 1, max: MAX_CAPTURE_VCPUS }) },
      );
      setExit(code);
    });
}
