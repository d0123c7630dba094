/**
 * Where a migration goes: a unix socket path (anything with a `/`) or a TCP `host:port` (`tcp:`
 * prefix optional; a bare `:port` means the loopback address).
 */
import { connect, type Socket } from 'node:net';
import { UsageError } from '../../errors.ts';

export type Endpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseEndpoint(text: string): Endpoint {
  const s = text.startsWith('tcp:') ? text.slice(4) : text;
  if (!text.startsWith('tcp:') && (text.includes('/') || text.startsWith('unix:'))) {
    return { kind: 'unix', path: text.startsWith('unix:') ? text.slice(5) : text };
  }
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (!m) throw new UsageError(`not a socket path or host:port: ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`port out of range: ${port}`);
  return { kind: 'tcp', host: m[1] === '' ? '127.0.0.1' : m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export function describeEndpoint(e: Endpoint): string {
  return e.kind === 'unix' ? e.path : `${e.host}:${e.port}`;
}

/** Connects, or rejects after `timeoutMs`. */
export function connectEndpoint(e: Endpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = e.kind === 'unix' ? connect(e.path) : connect(e.port, e.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UsageError(`no connection to ${describeEndpoint(e)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new UsageError(`cannot connect to ${describeEndpoint(e)}: ${err.message}`));
    };
    socket.once('error', onError);
  });
}
