/**
 * The share link's page (`/s/:id`) and the home page (`/`), served by the server itself: plain HTML
 * that polls the cacheable state document once a second and shows the space as it is. The full web
 * app (player, stage controls, host console) replaces these pages at the same URLs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { asSpaceId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { SpaceIdParam } from '../schemas.js';

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.6rem;margin:.2rem 0}.state{font-weight:600;text-transform:uppercase;font-size:.8rem;letter-spacing:.08em}
.live{color:#c0152f}ul{padding:0;list-style:none}li{padding:.3rem 0;border-bottom:1px solid #eee}
.muted{color:#888}a{color:#3451b2}`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, script: string, head = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style>${head}</head><body>${body}<script>${script}</script></body></html>`;
}

/** Renders the state document into the page; runs in the browser. */
const SPACE_SCRIPT = `
const el = (id) => document.getElementById(id);
const text = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
let delay = 1000;
let playlistUrl = null;
let playing = false;
// The broadcast: LL-HLS through hls.js (native HLS where the browser has it, as Safari does).
el('listen').addEventListener('click', () => {
  const audio = el('player');
  if (!playlistUrl) return;
  playing = true;
  el('listen').hidden = true;
  audio.hidden = false;
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ lowLatencyMode: true });
    hls.loadSource(playlistUrl);
    hls.attachMedia(audio);
    window.rostrumPlayer = hls; // for diagnostics (and the latency benchmark)
  } else {
    audio.src = playlistUrl;
  }
  audio.play();
});
async function refresh() {
  try {
    const res = await fetch(location.pathname.replace(/^\\/s\\//, '/api/spaces/') + '/state');
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const doc = await res.json();
    document.title = doc.title + ' · Rostrum';
    el('title').textContent = doc.title;
    el('state').textContent = doc.state + (doc.state === 'scheduled' && doc.scheduledStart ? ' · starts ' + new Date(doc.scheduledStart).toLocaleString() : '');
    el('state').className = 'state ' + doc.state;
    el('listeners').textContent = doc.listeners + (doc.listeners === 1 ? ' listener' : ' listeners');
    el('stage').innerHTML = doc.stage.map((m) => '<li>' + text(m.name) + ' <span class="muted">' + m.role + (m.muted ? ' · muted' : '') + '</span></li>').join('');
    const reactions = Object.entries(doc.reactions).filter(([, n]) => n > 0).map(([e, n]) => e + ' ' + n).join('  ');
    el('reactions').textContent = reactions;
    playlistUrl = doc.playlistUrl || null;
    el('listen').hidden = !playlistUrl || playing;
    delay = 1000;
  } catch (err) {
    delay = Math.min(30000, delay * 2);
    el('state').textContent = 'reconnecting…';
  }
  // Full jitter, so a page full of listeners never polls in step.
  setTimeout(refresh, Math.random() * delay + 500);
}
refresh();`;

/** The browser modules pages import, read once at start-up: ours from web/, and hls.js (light build: no video, no DRM). */
const WEB_ROOT = new URL('../../../../web/', import.meta.url);
const ASSETS: Record<string, URL | string> = {
  'stage-client.js': new URL('stage-client.js', WEB_ROOT),
  'hls.js': createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js'),
};

export function pageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const [name, file] of Object.entries(ASSETS)) {
    const body = readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    app.get(`/assets/${name}`, { schema: { hide: true } }, async (request, reply) => {
      reply.header('cache-control', 'public, max-age=300').header('etag', etag).type('text/javascript; charset=utf-8');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return body;
    });
  }

  app.get('/s/:id', { schema: { hide: true, params: SpaceIdParam } }, async (request, reply) => {
    const live = await deps.spaces.get(asSpaceId((request.params as { id: string }).id));
    const body = `<p id="state" class="state">…</p><h1 id="title">${escapeHtml(live.space.title)}</h1>
<p id="listeners" class="muted"></p>
<p><button id="listen" type="button">▶ Listen</button> <audio id="player" controls hidden aria-label="broadcast"></audio></p>
<h2>On stage</h2><ul id="stage" aria-live="polite"></ul><p id="reactions" aria-label="reactions"></p>
<p class="muted">API: <a href="/api/openapi.json">OpenAPI</a> · <a href="/">all spaces</a></p>`;
    reply.header('cache-control', 'public, max-age=60').type('text/html; charset=utf-8');
    return page(`${live.space.title} · Rostrum`, body, SPACE_SCRIPT, '<script src="/assets/hls.js"></script>');
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const spaces = await deps.spaces.list({ states: ['live', 'scheduled'], limit: 50 });
    const items = spaces
      .map(
        (s) =>
          `<li><a href="/s/${s.id}">${escapeHtml(s.title)}</a> <span class="state ${s.state}">${s.state}</span> <span class="muted">${escapeHtml(s.hostName)}</span></li>`,
      )
      .join('');
    reply.header('cache-control', 'public, max-age=5').type('text/html; charset=utf-8');
    return page(
      'Rostrum',
      `<h1>Rostrum</h1><p class="muted">Live and upcoming spaces</p><ul>${items || '<li class="muted">none yet</li>'}</ul>`,
      '',
    );
  });
}
