import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { captureKvmStats, DEFAULT_CAPTURE_VCPUS, formatCaptureResult, MAX_CAPTURE_VCPUS } from '../../kvm/index.ts';
import { printJson } from '../output.ts';
import { parseInteger } from './args.ts';

export function registerKvm(program: Command, setExit: (code: number) => void): void {
  const kvm = program.command('kvm').description('work with the real KVM of this machine');
  kvm
    .command('capture')
    .description('create a throwaway VM, run a tiny guest on each vCPU, and write every stats file byte for byte')
    .requiredOption('--out <dir>', 'directory to write vm.kvmstats and vcpu-N.kvmstats into')
    .option('--vcpus <n>', 'number of vCPUs', String(DEFAULT_CAPTURE_VCPUS))
    .option('--json', 'print what was written as JSON')
    .action((opts: { out: string; vcpus: string; json?: boolean }) => {
      if (!opts.out) throw new UsageError('--out DIR is required');
      const result = captureKvmStats({
        outDir: opts.out,
        vcpus: parseInteger('--vcpus', opts.vcpus, { min: 1, max: MAX_CAPTURE_VCPUS }),
      });
      if (opts.json) printJson(result);
      else process.stdout.write(`${formatCaptureResult(result)}\n`);
      setExit(0);
    });
}
