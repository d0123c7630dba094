/**
 * Where a migration goes, or where a host listens for them: a unix socket path (anything with a
 * `/`, or a `unix:` prefix) or a TCP `host:port` (`tcp:` prefix optional; an IPv6 address in
 * brackets, `[::1]:port`; a bare `:port` means the loopback address).
 *
 * Everything is checked here, once, before anything is created: a port is decimal 1..65535 (0,
 * "any free port", only for a listener), a host is non-empty, and a unix path fits the kernel's
 * sun_path (UNIX_PATH_MAX bytes with its NUL) — Node would otherwise bind a silently cut path.
 */
import { connect, isIPv6, type Socket } from 'node:net';
import { EnvironmentError, environmentError, UsageError } from '../../errors.ts';
import { peerText } from '../../peer-text.ts';
import { checkRequestPath } from './protocol.ts';

export type Endpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Longest unix socket path in bytes: sun_path is 108 bytes on Linux, NUL included. */
export const MAX_UNIX_PATH_BYTES = 107;

export interface ParseEndpointOptions {
  /** A listener: port 0 (the system picks a free port) is allowed. */
  listening?: boolean;
}

/** Refuses a unix socket path the kernel cannot bind or connect to as given. */
export function checkUnixPath(path: string): void {
  if (path === '') throw new UsageError('a unix socket path is empty');
  checkRequestPath(path, 'unix socket path');
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new UsageError(
      `unix socket path ${peerText(path, 120)} is ${bytes} bytes: at most ${MAX_UNIX_PATH_BYTES} fit in a socket address`,
    );
  }
}

/** A host name or IPv4 address: letters, digits, dots, hyphens (no spaces, no colons). */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/;

export function parseEndpoint(text: string, options: ParseEndpointOptions = {}): Endpoint {
  const shown = JSON.stringify(peerText(text, 200));
  if (text.startsWith('unix:') || (!text.startsWith('tcp:') && text.includes('/'))) {
    const path = text.startsWith('unix:') ? text.slice(5) : text;
    checkUnixPath(path);
    return { kind: 'unix', path };
  }
  const s = text.startsWith('tcp:') ? text.slice(4) : text;
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new UsageError(`not a socket path or host:port: ${shown}`);
  const hostPart = s.slice(0, colon);
  const portPart = s.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portPart)) throw new UsageError(`${shown}: the port must be a decimal number 1..65535`);
  const port = Number(portPart);
  const lowest = options.listening ? 0 : 1;
  if (port < lowest || port > 65535) throw new UsageError(`${shown}: port ${port} is outside ${lowest}..65535`);
  let host: string;
  if (hostPart === '') host = '127.0.0.1';
  else if (hostPart.startsWith('[') && hostPart.endsWith(']')) {
    host = hostPart.slice(1, -1);
    if (!isIPv6(host)) throw new UsageError(`${shown}: ${JSON.stringify(peerText(host, 100))} is not an IPv6 address`);
  } else if (hostPart.includes(':')) {
    throw new UsageError(`${shown}: an IPv6 address goes in brackets, e.g. [::1]:${port}`);
  } else if (!HOST_NAME.test(hostPart)) {
    throw new UsageError(`${shown}: ${JSON.stringify(peerText(hostPart, 100))} is not a host name or address`);
  } else host = hostPart;
  return { kind: 'tcp', host, port };
}

export function describeEndpoint(e: Endpoint): string {
  if (e.kind === 'unix') return e.path;
  return isIPv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Connects, or rejects after `timeoutMs`. */
export function connectEndpoint(e: Endpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = e.kind === 'unix' ? connect(e.path) : connect(e.port, e.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EnvironmentError(`no connection to ${describeEndpoint(e)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      const wrapped = environmentError(`cannot connect to ${describeEndpoint(e)}`, err);
      reject(
        wrapped === err ? new EnvironmentError(`cannot connect to ${describeEndpoint(e)}: ${err.message}`) : wrapped,
      );
    };
    socket.once('error', onError);
  });
}
