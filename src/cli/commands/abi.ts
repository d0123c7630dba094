import { relative } from 'node:path';
import type { Command } from 'commander';
import { runAbiCheck } from '../../abi/check.ts';
import { formatCompatViolation } from '../../abi/compat.ts';
import { FreezeRefused, freezeAbi } from '../../abi/freeze.ts';
import { generateCHeaderFor } from '../../abi/gen-c.ts';
import { generateMarkdownFor } from '../../abi/gen-md.ts';
import { listAbis } from '../../abi/registry.ts';
import { UsageError } from '../../errors.ts';
import { writeFileAtomically } from '../../os/replace-file.ts';
import { EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE } from '../errors.ts';
import { printJson } from '../output.ts';

export function registerAbi(program: Command, setExit: (code: number) => void): void {
  const abi = program.command('abi').description('check, freeze and generate from the ABI schemas under schemas/');

  abi
    .command('list')
    .description('list the ABIs defined under schemas/')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const names = await listAbis();
      if (opts.json) printJson(names);
      else process.stdout.write(`${names.join('\n')}\n`);
      setExit(EXIT_OK);
    });

  abi
    .command('check [abi...]')
    .description('compare the current schema of each ABI with every frozen revision; exit 1 on a breaking change')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts: { json?: boolean }) => {
      const result = await runAbiCheck(names);
      if (opts.json) printJson(result);
      else process.stdout.write(`${result.lines.join('\n')}\n`);
      setExit(result.errors === 0 ? EXIT_OK : EXIT_CHECK_FAILED);
    });

  abi
    .command('freeze <abi>')
    .description('freeze the current schema as the next revision (refused when it breaks a frozen one)')
    .action(async (name: string) => {
      try {
        const result = await freezeAbi(name);
        for (const w of result.warnings) process.stdout.write(`${formatCompatViolation(w)}\n`);
        process.stdout.write(
          `${name}: froze revision ${result.revision} into ${relative(process.cwd(), result.path)}\n`,
        );
        setExit(EXIT_OK);
      } catch (error) {
        if (!(error instanceof FreezeRefused)) throw error;
        for (const v of error.violations) process.stderr.write(`${formatCompatViolation(v)}\n`);
        process.stderr.write(`hvkit: ${error.message}\n`);
        setExit(error.reason === 'exists' ? EXIT_USAGE : EXIT_CHECK_FAILED);
      }
    });

  abi
    .command('gen <kind> <abi>')
    .description('generate the C header (kind "c") or the Markdown documentation (kind "md") of an ABI')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (kind: string, name: string, opts: { out?: string }) => {
      let text: string;
      if (kind === 'c') text = await generateCHeaderFor(name);
      else if (kind === 'md') text = await generateMarkdownFor(name);
      else throw new UsageError(`abi gen: kind must be "c" or "md" (got "${kind}")`);
      // Replaced in one step, and only a regular file: never a FIFO, device or symlink.
      if (opts.out) writeFileAtomically(opts.out, [new TextEncoder().encode(text)], { force: true, mode: 0o644 });
      else process.stdout.write(text);
      setExit(EXIT_OK);
    });
}
