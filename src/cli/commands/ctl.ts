import type { Command } from 'commander';
import {
  abiVersion,
  type CallSupport,
  createDomain,
  type DomainOp,
  describeCalls,
  domainOp,
  drainChanges,
  listDomains,
  queryCall,
  subscribe,
  unsubscribe,
} from '../../ctl/api.ts';
import { CtlClient, resolveHostSocket } from '../../ctl/client.ts';
import { familyName, formatCallWord, parseCallWord, parseFamily } from '../../ctl/names.ts';
import { FormatError, UsageError } from '../../errors.ts';
import { ANNOTATION, WORKLOAD } from '../../formats/callword/constants.ts';
import { type DomainInfoValues, NAME_BYTES, packName, type WorkloadName } from '../../formats/callword/values.ts';
import { uniqueIdHex } from '../../shm/region-names.ts';
import { EXIT_CHECK_FAILED, EXIT_OK } from '../errors.ts';
import { printJson, renderTable } from '../output.ts';
import { MEMORY_MIB, PID, parseDomid, parseInteger, VCPUS } from './args.ts';

/** What a ctl subcommand gets to talk to the host. */
export interface CtlKit {
  setExit: (code: number) => void;
  /**
   * Connects to the host named by `ctl --host` (or the only one running), runs `fn`, closes.
   * `fn` returns the exit code (default 0); a CallFailed exits by its kind (src/cli/errors.ts):
   * 1 when the host refused (no such domain, wrong state), 2 for bad arguments or a busy host.
   */
  run(command: Command, fn: (client: CtlClient) => Promise<number | undefined>): Promise<void>;
}

/** Adds subcommands to `hvkit ctl` (pools: `ctl pools`, streams: `ctl save/restore/migrate`). */
export type CtlExtension = (ctl: Command, kit: CtlKit) => void;

interface JsonOpt {
  json?: boolean;
}

function hostOption(command: Command): number | undefined {
  const text = (command.optsWithGlobals() as { host?: string }).host;
  return text === undefined ? undefined : parseInteger('--host', text, PID);
}

function annotationNames(mask: number): string {
  const names: string[] = [];
  if (mask & ANNOTATION.mayQueue) names.push('may_queue');
  const rest = mask & ~ANNOTATION.mayQueue;
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join(',') : '-';
}

function supportJson(s: CallSupport) {
  return {
    word: formatCallWord(s.word),
    name: s.name,
    supported: s.supported,
    callers: s.callers,
    annotations: annotationNames(s.annotations),
  };
}

function domainRow(d: DomainInfoValues): string[] {
  return [
    String(d.domid),
    d.name,
    d.state,
    String(d.vcpus),
    String(d.memoryMiB),
    d.workload,
    uniqueIdHex(d.uniqueId),
    String(d.generation),
  ];
}

const DOMAIN_HEADER = ['DOMID', 'NAME', 'STATE', 'VCPUS', 'MEM(MiB)', 'WORKLOAD', 'UNIQUE-ID', 'GEN'];
const RIGHT = ['right', 'left', 'left', 'right', 'right', 'left', 'left', 'right'] as const;

function printDomain(d: DomainInfoValues, json: boolean | undefined): void {
  if (json) printJson(d);
  else process.stdout.write(`${renderTable(DOMAIN_HEADER, [domainRow(d)], [...RIGHT])}\n`);
}

/** The word or family `features` was asked about: a family is a name or a number 0..255. */
function parseFeatureTarget(text: string): { family: number } | { word: number } {
  if (!text.includes('.') && !/^(0x[0-9a-f]{3,}|\d{4,})$/i.test(text)) {
    const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : undefined;
    if (n === undefined || n <= 0xff) return { family: parseFamily(text) };
  }
  return { word: parseCallWord(text) };
}

export function registerCtl(
  program: Command,
  setExit: (code: number) => void,
  extensions: readonly CtlExtension[] = [],
): Command {
  const ctl = program
    .command('ctl')
    .description('talk to a running host through its control socket (call words, as guests do)')
    .option('--host <pid>', 'the host process to talk to (default: the only one running)');

  const kit: CtlKit = {
    setExit,
    async run(command, fn) {
      const client = await CtlClient.connect(resolveHostSocket({ host: hostOption(command) }));
      try {
        // A CallFailed reaches the one error mapping in src/cli/errors.ts like any other error.
        setExit((await fn(client)) ?? EXIT_OK);
      } finally {
        client.close();
      }
    },
  };

  ctl
    .command('features [what]')
    .description(
      'what the host serves: every family and call, one FAMILY (name or 0..255), or one call WORD (FAMILY.CALL or a u32); exit 1 when absent',
    )
    .option('--json', 'print JSON')
    .action((what: string | undefined, opts: JsonOpt, command: Command) =>
      kit.run(command, async (client) => {
        const target = what === undefined ? undefined : parseFeatureTarget(what);
        if (target && 'word' in target) {
          const s = await queryCall(client, target.word);
          if (opts.json) printJson(supportJson(s));
          else if (!s.supported) process.stdout.write(`${s.name} (${formatCallWord(s.word)}): not supported\n`);
          else {
            process.stdout.write(
              `${s.name} (${formatCallWord(s.word)}): supported; callers ${s.callers.join(',')}; annotations ${annotationNames(s.annotations)}\n`,
            );
          }
          return s.supported ? EXIT_OK : EXIT_CHECK_FAILED;
        }
        const abi = await abiVersion(client);
        const calls = await describeCalls(client, target ? [target.family] : undefined);
        if (opts.json) printJson({ abi, calls: calls.map(supportJson) });
        else {
          process.stdout.write(`call-word ABI ${abi.major}, revision ${abi.revision}\n`);
          const rows = calls.map((s) => [
            formatCallWord(s.word),
            s.name,
            s.callers.join(','),
            annotationNames(s.annotations),
          ]);
          if (rows.length) process.stdout.write(`${renderTable(['WORD', 'CALL', 'CALLERS', 'ANNOTATIONS'], rows)}\n`);
        }
        if (target && calls.length === 0) {
          if (!opts.json) process.stdout.write(`family ${familyName(target.family)}: not served\n`);
          return EXIT_CHECK_FAILED;
        }
        return EXIT_OK;
      }),
    );

  ctl
    .command('list')
    .description('the host’s domains')
    .option('--json', 'print JSON')
    .action((opts: JsonOpt, command: Command) =>
      kit.run(command, async (client) => {
        const domains = await listDomains(client);
        if (opts.json) printJson(domains);
        else process.stdout.write(`${renderTable(DOMAIN_HEADER, domains.map(domainRow), [...RIGHT])}\n`);
        return EXIT_OK;
      }),
    );

  ctl
    .command('create')
    .description('create a domain')
    .requiredOption('--vcpus <n>', 'vCPUs')
    .requiredOption('--memory <MiB>', 'guest memory')
    .requiredOption('--workload <w>', `what the guest runs (${Object.keys(WORKLOAD).join(', ')})`)
    .option('--name <name>', `at most ${NAME_BYTES - 1} bytes (default dom<domid>)`)
    .option('--paused', 'create with the vCPUs not started')
    .option('--json', 'print JSON')
    .action(
      (
        opts: JsonOpt & { vcpus: string; memory: string; workload: string; name?: string; paused?: boolean },
        command: Command,
      ) => {
        if (!(opts.workload in WORKLOAD)) {
          throw new UsageError(
            `--workload must be one of ${Object.keys(WORKLOAD).join(', ')} (got "${opts.workload}")`,
          );
        }
        const args = {
          vcpus: parseInteger('--vcpus', opts.vcpus, VCPUS),
          memoryMiB: parseInteger('--memory', opts.memory, MEMORY_MIB),
          workload: opts.workload as WorkloadName,
          ...(opts.name === undefined ? {} : { name: opts.name }),
          paused: opts.paused === true,
        };
        if (args.name !== undefined) {
          // The call ABI's own rule (formats/callword/values.ts), checked before the host is asked.
          try {
            packName(args.name);
          } catch (e) {
            if (e instanceof FormatError) throw new UsageError(`--name: ${e.sentence}`);
            throw e;
          }
        }
        return kit.run(command, async (client) => {
          printDomain(await createDomain(client, args), opts.json);
          return EXIT_OK;
        });
      },
    );

  const ops: [DomainOp, string][] = [
    ['destroy', 'destroy a domain (its domid becomes free)'],
    ['pause', 'stop a domain’s vCPUs until unpaused'],
    ['unpause', 'start a paused domain’s vCPUs'],
    ['shutdown', 'stop a domain’s guest for good (the domain remains until destroyed)'],
  ];
  for (const [op, description] of ops) {
    ctl
      .command(`${op} <domid>`)
      .description(description)
      .option('--json', 'print JSON')
      .action((domid: string, opts: JsonOpt, command: Command) => {
        const id = parseDomid(domid);
        return kit.run(command, async (client) => {
          printDomain(await domainOp(client, op, id), opts.json);
          return EXIT_OK;
        });
      });
  }

  ctl
    .command('changes')
    .description('subscribe to the lifecycle feed and print what it holds (every existing domain, as a new consumer)')
    .option('--json', 'print JSON')
    .action((opts: JsonOpt, command: Command) =>
      kit.run(command, async (client) => {
        const handle = await subscribe(client);
        const changes = await drainChanges(client, handle);
        await unsubscribe(client, handle);
        if (opts.json) printJson(changes);
        else {
          const rows = changes.map((c) => [String(c.domid), c.state, uniqueIdHex(c.uniqueId), String(c.generation)]);
          process.stdout.write(
            `${renderTable(['DOMID', 'STATE', 'UNIQUE-ID', 'GEN'], rows, ['right', 'left', 'left', 'right'])}\n`,
          );
        }
        return EXIT_OK;
      }),
    );

  for (const extend of extensions) extend(ctl, kit);
  return ctl;
}
