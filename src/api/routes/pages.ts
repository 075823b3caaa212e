/**
 * The web app (web/app, built by Vite into dist/app) served by the server itself: its one HTML page
 * at `/` (home) and `/s/:id` (the share link, for everyone), with the title and a plain list of
 * links rendered in, so the page reads right before its script runs (and for link previews); its
 * hashed assets under `/app/assets/` (immutable) and its icon; and the framework-free browser
 * modules under `/assets/` that other pages may import (the stage client, hls.js light). Static
 * files are read once and compressed once (static-file.ts); a browser asking for a space or a path
 * that does not exist gets an error page, an API client the JSON error (page-shell.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail } from '../../errors.js';
import { escapeMarkup } from '../../escape.js';
import { asSpaceId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { errorHandler, toRostrumError } from '../http-errors.js';
import { APP_ROOT, type PageShell, wantsHtml } from '../page-shell.js';
import { SpaceIdParam } from '../schemas.js';
import { StaticFile } from '../static-file.js';

/** The framework-free browser modules, read once at start-up: ours from web/, and hls.js (light build). */
const WEB_ROOT = new URL('../../../../web/', import.meta.url);
const MODULES: Record<string, URL | string> = {
  'stage-client.js': new URL('stage-client.js', WEB_ROOT),
  'hls.js': createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js'),
};
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
/** Vite puts a content hash in every asset's name: the same URL never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The icon's name carries no hash: a day. */
const ICON_CACHE = 'public, max-age=86400';

/** A page route's errors: an error page for a browser, the JSON error for anyone else. */
function pageErrors(shell: PageShell) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    wantsHtml(request) ? shell.sendError(reply, toRostrumError(err)) : errorHandler(err, request, reply);
}

export function pageRoutes(app: FastifyInstance, deps: ApiDeps, shell: PageShell): void {
  for (const [name, file] of Object.entries(MODULES)) {
    const asset = new StaticFile(readFileSync(file), TYPES['.js']!, 'public, max-age=300');
    app.get(`/assets/${name}`, { schema: { hide: true } }, (request, reply) => asset.send(request, reply));
  }

  // The built assets, read once: immutable, and read by every listener's page load.
  const assetsDir = path.join(APP_ROOT, 'assets');
  const assets = new Map<string, StaticFile>(
    existsSync(assetsDir)
      ? readdirSync(assetsDir).map((name) => [
          name,
          new StaticFile(readFileSync(path.join(assetsDir, name)), TYPES[path.extname(name)] ?? 'application/octet-stream', IMMUTABLE),
        ])
      : [],
  );
  app.get('/app/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const asset = assets.get(file);
    if (!asset) throw fail('route_not_found', `No asset ${file}.`);
    return asset.send(request, reply);
  });

  // The icon the pages link (/app/favicon.svg), also where browsers and crawlers look unasked.
  const iconFile = path.join(APP_ROOT, 'favicon.svg');
  if (existsSync(iconFile)) {
    const icon = new StaticFile(readFileSync(iconFile), TYPES['.svg']!, ICON_CACHE);
    for (const url of ['/app/favicon.svg', '/favicon.ico'])
      app.get(url, { schema: { hide: true } }, (request, reply) => icon.send(request, reply));
  }

  const errorPage = pageErrors(shell);
  app.get(
    '/s/:id',
    { schema: { hide: true, params: SpaceIdParam }, config: { compress: 'shared' }, errorHandler: errorPage },
    async (request, reply) => {
      const live = await deps.spaces.get(asSpaceId((request.params as { id: string }).id));
      const title = `${live.space.title} · Rostrum`;
      return shell.send(reply, title, `<main><h1>${escapeMarkup(live.space.title)}</h1><p>Loading…</p></main>`, 60);
    },
  );

  app.get('/', { schema: { hide: true }, config: { compress: 'shared' }, errorHandler: errorPage }, async (_request, reply) => {
    const spaces = await deps.spaces.list({ states: ['live', 'scheduled'], limit: 50 });
    const items = spaces.map((s) => `<li><a href="/s/${s.id}">${escapeMarkup(s.title)}</a> ${s.state}</li>`).join('');
    return shell.send(reply, 'Rostrum', `<main><h1>Rostrum</h1><ul>${items}</ul></main>`, 5);
  });
}
