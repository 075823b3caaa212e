/**
 * The web app (web/app, built by Vite into dist/web) served by the server itself: its one HTML page
 * at `/` (home) and `/s/:id` (the share link, for everyone), with the title and a plain list of
 * links rendered in, so the page reads right before its script runs (and for link previews); its
 * hashed assets under `/app/assets/` (immutable); and the framework-free browser modules under
 * `/assets/` that other pages may import (the stage client, hls.js light).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fail } from '../../errors.js';
import { escapeMarkup } from '../../escape.js';
import { asSpaceId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { SpaceIdParam } from '../schemas.js';

/** The framework-free browser modules, read once at start-up: ours from web/, and hls.js (light build). */
const WEB_ROOT = new URL('../../../../web/', import.meta.url);
const MODULES: Record<string, URL | string> = {
  'stage-client.js': new URL('stage-client.js', WEB_ROOT),
  'hls.js': createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js'),
};
/** The built web app. */
const APP_ROOT = new URL('../../../web/', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
}

export function pageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const [name, file] of Object.entries(MODULES)) {
    const body = readFileSync(file);
    const etag = etagOf(body);
    app.get(`/assets/${name}`, { schema: { hide: true } }, async (request, reply) => {
      reply.header('cache-control', 'public, max-age=300').header('etag', etag).type('text/javascript; charset=utf-8');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return body;
    });
  }

  const indexFile = path.join(APP_ROOT, 'index.html');
  const shell = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : undefined;
  const page = (reply: FastifyReply, title: string, content: string, maxAge: number) => {
    if (!shell) throw fail('not_ready', 'The web app is not built: run "npm run build".');
    reply.header('cache-control', `public, max-age=${maxAge}`).type('text/html; charset=utf-8');
    return shell
      .replace('<title>Rostrum</title>', `<title>${escapeMarkup(title)}</title><meta property="og:title" content="${escapeMarkup(title)}">`)
      .replace('<!--ssr-->', content);
  };

  // The built assets, read once: immutable, and read by every listener's page load.
  const assetsDir = path.join(APP_ROOT, 'assets');
  const assets = new Map<string, Buffer>(
    existsSync(assetsDir) ? readdirSync(assetsDir).map((name) => [name, readFileSync(path.join(assetsDir, name))]) : [],
  );
  app.get('/app/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const body = assets.get(file);
    if (!body) throw fail('route_not_found', `No asset ${file}.`);
    // Vite puts a content hash in every asset's name: the same URL never changes.
    reply.header('cache-control', 'public, max-age=31536000, immutable').type(TYPES[path.extname(file)] ?? 'application/octet-stream');
    return body;
  });

  app.get('/s/:id', { schema: { hide: true, params: SpaceIdParam } }, async (request, reply) => {
    const live = await deps.spaces.get(asSpaceId((request.params as { id: string }).id));
    const title = `${live.space.title} · Rostrum`;
    return page(reply, title, `<main><h1>${escapeMarkup(live.space.title)}</h1><p>Loading…</p></main>`, 60);
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const spaces = await deps.spaces.list({ states: ['live', 'scheduled'], limit: 50 });
    const items = spaces.map((s) => `<li><a href="/s/${s.id}">${escapeMarkup(s.title)}</a> ${s.state}</li>`).join('');
    return page(reply, 'Rostrum', `<main><h1>Rostrum</h1><ul>${items}</ul></main>`, 5);
  });
}
