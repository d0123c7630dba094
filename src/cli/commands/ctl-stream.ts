/**
 * `hvkit ctl save DOMID FILE`, `hvkit ctl restore FILE`, `hvkit ctl migrate DOMID --to SOCKET`:
 * a CtlExtension (pass it to registerCtl). They talk to the host's stream socket
 * (`/dev/shm/hvkit.<pid>.<start>.stream`, next to its control socket), because the file paths and
 * socket addresses they carry do not fit in call-word arguments: one request line, one JSON answer.
 * The host writes and reads FILE itself (paths are made absolute here), as `xl save` does.
 */
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveHostSocket } from '../../ctl/client.ts';
import { EnvironmentError, type ErrorKind, errnoText, errorCode, HvkitError } from '../../errors.ts';
import { describeEndpoint, parseEndpoint } from '../../host/migration/endpoint.ts';
import { checkRequestPath } from '../../host/migration/protocol.ts';
import { MAX_LINE } from '../../host/migration/wire.ts';
import { peerText } from '../../peer-text.ts';
import { EXIT_OK, exitCodeFor } from '../errors.ts';
import { printJson } from '../output.ts';
import { PID, parseDomid, parseInteger } from './args.ts';
import type { CtlExtension } from './ctl.ts';

/** The stream socket of the host `ctl --host PID` names (or the only one running). */
export function streamSocketOf(command: Command): string {
  const text = (command.optsWithGlobals() as { host?: string }).host;
  const ctl = resolveHostSocket(text === undefined ? {} : { host: parseInteger('--host', text, PID) });
  return ctl.replace(/\.ctl$/, '.stream');
}

/** The host's answer: a result, or an error with its kind (src/errors.ts ErrorKind). */
export interface StreamAnswer {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** The host cut its answer (or this client could not read all of it): `result` is partial or absent. */
  truncated?: boolean;
  kind?: ErrorKind;
}

/**
 * An answer longer than this client reads. The host puts `ok` first, so its start still says
 * whether the request succeeded: a success is never reported as a failure for being unreadable.
 */
function overlongAnswer(text: string): StreamAnswer {
  if (text.startsWith('{"ok":true')) return { ok: true, truncated: true };
  if (text.startsWith('{"ok":false')) {
    return { ok: false, truncated: true, error: "the request failed (the host's reason was too long to read)" };
  }
  throw new EnvironmentError(
    `the host's answer is longer than ${MAX_LINE} bytes and unreadable: the outcome is unknown (check with hvkit ctl list)`,
  );
}

/** An error the host reported for a request, with the kind the host gave it. */
export class HostRequestError extends HvkitError {
  override readonly name = 'HostRequestError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const KINDS: readonly ErrorKind[] = ['usage', 'format', 'environment', 'refused', 'internal'];

/**
 * The host's failure as an error of the kind it reported. The host names files by the absolute
 * path it was sent; the user is shown the path as they typed it.
 */
export function hostError(answer: StreamAnswer, typed?: { path: string; sent: string }): HostRequestError {
  const kind = KINDS.find((k) => k === answer.kind) ?? 'internal';
  let message = answer.error ?? 'the host refused the request without saying why';
  if (typed && typed.path !== typed.sent) message = message.split(typed.sent).join(typed.path);
  return new HostRequestError(kind, peerText(message, 2000));
}

/** Sends one request line; resolves with the host's JSON answer. */
export function streamRequest(path: string, line: string, timeoutMs = 600_000): Promise<StreamAnswer> {
  return new Promise((done, fail) => {
    const socket = connect(path);
    let text = '';
    let settled = false;
    const settle = (answer: () => StreamAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      try {
        done(answer());
      } catch (err) {
        fail(err);
      }
    };
    const refuse = (message: string) =>
      settle(() => {
        throw new EnvironmentError(message);
      });
    const timer = setTimeout(() => refuse(`the host did not answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      // Too long to read whole: the request may well have been done, so the answer's start decides.
      if (nl < 0 ? text.length > MAX_LINE : nl > MAX_LINE) return settle(() => overlongAnswer(text));
      if (nl < 0) return;
      const answer = text.slice(0, nl);
      // A host that refuses the connection (busy) says so in the migration protocol's words.
      if (answer.startsWith('FAIL '))
        return settle(() => ({ ok: false, kind: 'environment', error: peerText(answer.slice(5)) }));
      settle(() => {
        try {
          return JSON.parse(answer);
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e; // what JSON.parse throws for text that is not JSON
          throw new EnvironmentError(`the host answered something else than JSON: ${peerText(answer, 200)}`);
        }
      });
    });
    socket.on('end', () => refuse(`the host closed its stream socket ${path} without answering`));
    socket.on('close', () => refuse(`the host closed its stream socket ${path} without answering`));
    socket.on('error', (err) =>
      refuse(`cannot reach the host's stream socket ${path}: ${errnoText(errorCode(err) ?? err.message)}`),
    );
  });
}

interface Opts {
  json?: boolean;
  paused?: boolean;
  force?: boolean;
  to?: string;
}

/**
 * Sends `line`; prints the result, or (as any local error is) one line on stderr, and returns
 * the exit code of the error's kind: a missing file is the environment (2), a bad stream is
 * format (1). `typed` maps the absolute path sent back to the path the user typed.
 */
async function run(
  command: Command,
  line: string,
  opts: Opts,
  describe: (result: Record<string, unknown>) => string,
  typed?: { path: string; sent: string },
): Promise<number> {
  const answer = await streamRequest(streamSocketOf(command), line);
  if (answer.ok) {
    if (opts.json) printJson(answer);
    else if (answer.result === undefined) {
      process.stdout.write("done (the host's answer was too long to show: see hvkit ctl list)\n");
    } else process.stdout.write(`${peerText(describe(answer.result as Record<string, unknown>), 2000)}\n`);
    return EXIT_OK;
  }
  const error = hostError(answer, typed);
  if (opts.json) printJson({ ...answer, kind: error.kind, error: error.message });
  else process.stderr.write(`hvkit: ${error.message}\n`);
  return exitCodeFor(error);
}

export const ctlStream: CtlExtension = (ctl: Command, kit) => {
  ctl
    .command('save <domid> <file>')
    .description(
      'pause a domain, write its stream to FILE (atomically), let it run on; FILE must not exist unless --force',
    )
    .option('--paused', 'leave the domain paused after the save')
    .option('--force', 'replace FILE if it is an existing regular file (anything else is always refused)')
    .option('--json', 'print JSON')
    .action(async (domid: string, file: string, opts: Opts, command: Command) => {
      const id = parseDomid(domid);
      const sent = resolve(file);
      checkRequestPath(sent, 'FILE');
      const code = await run(
        command,
        `SAVE ${id} ${opts.paused ? 1 : 0} ${opts.force ? 1 : 0} ${sent}`,
        opts,
        (r) => `saved domain ${id} to ${file} (${r.bytes} bytes, stream version ${r.version})`,
        { path: file, sent },
      );
      kit.setExit(code);
    });
  ctl
    .command('restore <file>')
    .description('verify a stream file completely, then run it as a new domain where it stopped')
    .option('--paused', 'leave the restored domain paused')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: Opts, command: Command) => {
      const sent = resolve(file);
      checkRequestPath(sent, 'FILE');
      const code = await run(
        command,
        `RESTORE ${opts.paused ? 1 : 0} ${sent}`,
        opts,
        (r) => {
          const d = r.domain as { domid: number; name: string; state: string };
          const up = r.upgradedFrom === undefined ? '' : `, upgraded from version ${r.upgradedFrom}`;
          return `restored ${file} as domain ${d.domid} (${d.name}), ${d.state}${up}`;
        },
        { path: file, sent },
      );
      kit.setExit(code);
    });
  ctl
    .command('migrate <domid>')
    .description('live-migrate a domain (stop-and-copy) to the host listening at --to')
    .requiredOption('--to <socket>', 'destination: a unix socket path or host:port')
    .option('--json', 'print JSON')
    .action(async (domid: string, opts: Opts, command: Command) => {
      const id = parseDomid(domid);
      // Checked here, before the host is asked: a malformed address is the command line's fault.
      const endpoint = parseEndpoint(opts.to!);
      const to = endpoint.kind === 'unix' ? resolve(endpoint.path) : describeEndpoint(endpoint);
      // resolve() joins the working directory, which may itself hold a control character.
      checkRequestPath(to, '--to');
      const code = await run(
        command,
        `MIGRATE ${id} ${to}`,
        opts,
        (r) =>
          `migrated domain ${id} to ${to} as domain ${r.remoteDomid} (${r.bytes} bytes, ${Math.round(Number(r.downtimeMs))} ms paused)`,
      );
      kit.setExit(code);
    });
};
