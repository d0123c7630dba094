/**
 * The hvkit CLI with `host` and `ctl` registered even before src/cli/main.ts wires them (the lead
 * adds them there): run as `node --import tsx test/ctl/hvkit-entry.ts ARGS…`.
 */
import { CommanderError } from 'commander';
import { registerCtl } from '../../src/cli/commands/ctl.ts';
import { registerHost } from '../../src/cli/commands/host.ts';
import { EXIT_USAGE, reportError } from '../../src/cli/errors.ts';
import { buildProgram } from '../../src/cli/main.ts';

let code = 0;
const setExit = (c: number) => {
  code = c;
};
const program = buildProgram(setExit);
const names = new Set(program.commands.map((c) => c.name()));
if (!names.has('host')) registerHost(program, setExit);
if (!names.has('ctl')) registerCtl(program, setExit);
try {
  await program.parseAsync(process.argv);
  process.exitCode = code;
} catch (error) {
  process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? 0 : EXIT_USAGE) : reportError(error);
}
