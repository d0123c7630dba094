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
const require = createRequire(import.meta.url);
const uplotDist = dirname(require.resolve('uplot'));
// The self-contained browser builds: markdown-it's UMD bundle (its dependencies inside) and
// DOMPurify's; each sets one global the page's markdown.js uses.
const markdownItBrowser = require.resolve('markdown-it/browser');
const domPurifyBrowser = require.resolve('dompurify/purify.min.js');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: join(here, 'assets', 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: join(here, 'assets', 'index.html'), type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: join(here, 'assets', 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: join(here, 'assets', 'app.css'), type: 'text/css; charset=utf-8' },
  '/assets/uPlot.iife.min.js': { file: join(uplotDist, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: join(uplotDist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/assets/markdown.js': { file: join(here, 'assets', 'markdown.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/markdown-it.min.js': { file: markdownItBrowser, type: 'text/javascript; charset=utf-8' },
  '/assets/purify.min.js': { file: domPurifyBrowser, type: 'text/javascript; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/**
 * The page runs only hvkit's own scripts and talks only to hvkit: even if a sanitizer missed
 * something in an ABI's docs, an injected inline script, handler or foreign request is refused.
 * Styles set from script (uPlot sizes its canvases) go through the CSSOM, which style-src allows.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

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
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

export const ASSET_PATHS = Object.keys(ASSETS);
