import type { Command } from 'commander';
import { runAbiCheck } from '../../abi/check.ts';
import { formatCompatViolation } from '../../abi/compat.ts';
import { FreezeRefused, freezeAbi } from '../../abi/freeze.ts';
import { generateCHeaderFor } from '../../abi/gen-c.ts';
import { generateMarkdownFor } from '../../abi/gen-md.ts';
import { initAbi, newProjectLocation } from '../../abi/init.ts';
import { listAbis } from '../../abi/registry.ts';
import { findSchemas, locateSchemas, type SchemasLocation, shownPath } from '../../abi/schemas-root.ts';
import { UsageError } from '../../errors.ts';
import { writeFileAtomically } from '../../os/replace-file.ts';
import { EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE } from '../errors.ts';
import { printJson } from '../output.ts';

const SCHEMAS_HELP = 'the schemas directory (default: from hvkit.abi.json, found walking up from here)';

interface SchemasOpt {
  schemas?: string;
}

function where(opts: SchemasOpt): SchemasLocation {
  return locateSchemas({ flag: opts.schemas });
}

export function registerAbi(program: Command, setExit: (code: number) => void): void {
  const abi = program
    .command('abi')
    .description(
      'check, freeze and generate from ABI schemas (--schemas DIR or hvkit.abi.json; in this repository, schemas/)',
    );

  abi
    .command('init <abi>')
    .description('start a new ABI: write <schemas>/<abi>/schema.ts, a commented example that can be frozen as is')
    .option('--schemas <dir>', SCHEMAS_HELP)
    .option('--force', 'replace an existing schema.ts')
    .action((name: string, opts: SchemasOpt & { force?: boolean }) => {
      // A project with no config yet gets one (and abi/ beside it), so later commands find it.
      const found = findSchemas({ flag: opts.schemas });
      const location = found ?? newProjectLocation(process.cwd());
      const result = initAbi(name, location, { force: opts.force, writeConfig: found === undefined });
      for (const path of result.written) process.stdout.write(`wrote ${shownPath(location, path)}\n`);
      setExit(EXIT_OK);
    });

  abi
    .command('list')
    .description('list the ABIs defined in the schemas directory')
    .option('--schemas <dir>', SCHEMAS_HELP)
    .option('--json', 'print JSON')
    .action(async (opts: SchemasOpt & { json?: boolean }) => {
      const names = await listAbis(where(opts).root);
      if (opts.json) printJson(names);
      else if (names.length > 0) process.stdout.write(`${names.join('\n')}\n`);
      setExit(EXIT_OK);
    });

  abi
    .command('check [abi...]')
    .description(
      'compare the current schema of each ABI with every frozen revision, and compile C consumers of each revision against data of the others; exit 1 on a breaking change',
    )
    .option('--schemas <dir>', SCHEMAS_HELP)
    .option('--no-compile', 'skip the C compilation of every revision (no C compiler)')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts: SchemasOpt & { json?: boolean; compile: boolean }) => {
      const result = await runAbiCheck(names, where(opts).root, { compile: opts.compile });
      if (opts.json) printJson(result);
      else process.stdout.write(`${result.lines.join('\n')}\n`);
      setExit(result.errors === 0 ? EXIT_OK : EXIT_CHECK_FAILED);
    });

  abi
    .command('freeze <abi>')
    .description('freeze the current schema as the next revision (refused when it breaks a frozen one)')
    .option('--schemas <dir>', SCHEMAS_HELP)
    .action(async (name: string, opts: SchemasOpt) => {
      const location = where(opts);
      try {
        const result = await freezeAbi(name, location.root);
        for (const w of result.warnings) process.stdout.write(`${formatCompatViolation(w)}\n`);
        process.stdout.write(`${name}: froze revision ${result.revision} into ${shownPath(location, result.path)}\n`);
        setExit(EXIT_OK);
      } catch (error) {
        if (!(error instanceof FreezeRefused)) throw error;
        for (const v of error.violations) process.stderr.write(`${formatCompatViolation(v)}\n`);
        // The violations are on the lines above; the message repeats them for library callers.
        process.stderr.write(`hvkit: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}\n`);
        setExit(error.reason === 'exists' ? EXIT_USAGE : EXIT_CHECK_FAILED);
      }
    });

  abi
    .command('gen <kind> <abi>')
    .description('generate the C header (kind "c") or the Markdown documentation (kind "md") of an ABI')
    .option('--schemas <dir>', SCHEMAS_HELP)
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (kind: string, name: string, opts: SchemasOpt & { out?: string }) => {
      const root = where(opts).root;
      let text: string;
      if (kind === 'c') text = await generateCHeaderFor(name, root);
      else if (kind === 'md') text = await generateMarkdownFor(name, root);
      else throw new UsageError(`abi gen: kind must be "c" or "md" (got "${kind}")`);
      // Replaced in one step, and only a regular file: never a FIFO, device or symlink.
      if (opts.out) writeFileAtomically(opts.out, [new TextEncoder().encode(text)], { force: true, mode: 0o644 });
      else process.stdout.write(text);
      setExit(EXIT_OK);
    });
}
