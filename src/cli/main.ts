/**
 * The hvkit command line. This file only wires commands to the libraries under src/tools,
 * src/abi and src/kvm; it holds no logic of its own beyond exit codes.
 */
import { Command, CommanderError } from 'commander';
import { AttachSession } from '../attach/session.ts';
import { standardInstallers } from '../host/services.ts';
import { registerAbi } from './commands/abi.ts';
import { registerCtl } from './commands/ctl.ts';
import { ctlPools } from './commands/ctl-pools.ts';
import { ctlStream } from './commands/ctl-stream.ts';
import { registerDemo } from './commands/demo.ts';
import { registerExport } from './commands/export.ts';
import { exportOtlp } from './commands/export-otlp.ts';
import { registerHost } from './commands/host.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerKvm } from './commands/kvm.ts';
import { registerTop } from './commands/top.ts';
import { registerTour } from './commands/tour.ts';
import { EXIT_USAGE, reportError } from './errors.ts';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('hvkit')
    .description('stable binary ABIs for a small KVM hypervisor host, and the tools that observe and check them')
    .version('0.1.0')
    // A usage error is one line on stderr, like every other error (the README's promise); the
    // subcommands inherit this because they are created from `program` after it is set.
    .configureOutput({ outputError: (text, write) => write(usageLine(text)) })
    .exitOverride();
  registerAbi(program, setExit);
  registerInspect(program, setExit);
  registerTour(program, setExit);
  registerDemo(program, setExit);
  registerKvm(program, setExit);
  registerTop(program, setExit, () => new AttachSession());
  registerExport(program, setExit, (options) => new AttachSession(options), [exportOtlp]);
  registerHost(program, setExit, { installers: (options) => standardInstallers(options) });
  registerCtl(program, setExit, [ctlPools, ctlStream]);
  return program;
}

/** Commander's "error: unknown option '--x'" as hvkit's one line, with where to look for help. */
function usageLine(text: string): string {
  const message = text.trim().replace(/^error: /, '');
  return `hvkit: ${message} (see --help)\n`;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(error);
  }
}
