/**
 * The page's files, served by hvkit itself: the page works on a host without network access.
 * Only the files named here are served (no path from the request ever reaches the file system),
 * read once and kept.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot'));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: join(here, 'assets', 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: join(here, 'assets', 'index.html'), type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: join(here, 'assets', 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: join(here, 'assets', 'app.css'), type: 'text/css; charset=utf-8' },
  '/assets/uPlot.iife.min.js': { file: join(uplotDist, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: join(uplotDist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** Answers a known asset path and returns true; false for any other path. */
export function serveAsset(path: string, req: IncomingMessage, res: ServerResponse): boolean {
  if (!Object.hasOwn(ASSETS, path)) return false;
  const asset = ASSETS[path]!;
  let body = cache.get(asset.file);
  if (!body) {
    body = readFileSync(asset.file);
    cache.set(asset.file, body);
  }
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': String(body.length),
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

export const ASSET_PATHS = Object.keys(ASSETS);
