import type { Command } from 'commander';
import { runDemo } from '../../tools/demo.ts';
import { color } from '../output.ts';
import { parseInteger } from './args.ts';

interface DemoCliOptions {
  vcpus: string;
  memory: string;
  recreateEvery: string;
  interval: string;
  seconds?: string;
  own?: boolean;
}

export function registerDemo(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('the main job: a host with four micro-VMs under KVM (simulated without /dev/kvm), shown live in top')
    .option('--vcpus <n>', 'vCPUs per VM', '2')
    .option('--memory <MiB>', 'guest memory per VM', '4')
    .option('--recreate-every <ms>', 'destroy and re-create the "cycler" VM this often', '5000')
    .option('--interval <ms>', 'refresh interval of the live view', '1000')
    .option('--seconds <n>', 'stop after this long (default: until q or Ctrl-C on a terminal, 10 s otherwise)')
    .option('--own', 'show only the demo host’s VMs, not every KVM VM on the machine')
    .action(async (opts: DemoCliOptions) => {
      const intervalMs = parseInteger('--interval', opts.interval);
      const interactive = process.stdout.isTTY === true && process.stdin.isTTY === true;
      const seconds =
        opts.seconds === undefined ? (interactive ? undefined : 10) : parseInteger('--seconds', opts.seconds);
      const count = seconds === undefined ? undefined : Math.max(1, Math.round((seconds * 1000) / intervalMs));
      const code = await runDemo(
        {
          vcpus: parseInteger('--vcpus', opts.vcpus),
          memoryMiB: parseInteger('--memory', opts.memory),
          recreateEveryMs: parseInteger('--recreate-every', opts.recreateEvery),
          ownVmsOnly: opts.own === true,
          top: { intervalMs, ...(count === undefined ? {} : { count }) },
        },
        { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, paint: color },
        (line) => process.stderr.write(`${line}\n`),
      );
      setExit(code);
    });
}
