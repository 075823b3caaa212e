/**
 * The web app's one HTML page (dist/app/index.html, built by Vite), with a title and server-rendered
 * content put in, sent with the pages' security headers; and the error page a browser gets instead of
 * JSON (a 404 for an unknown space or path, in the app's look, with a way home). API clients —
 * `Accept: application/json`, or no Accept at all — keep the JSON error.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { fail, type RostrumError } from '../errors.js';
import { escapeMarkup } from '../escape.js';
import { PAGE_HEADERS } from './security-headers.js';

/** The built web app. */
export const APP_ROOT = new URL('../../app/', import.meta.url).pathname;

/** Headings of the error pages a browser may see, by status. */
const HEADINGS: Record<number, string> = { 400: 'That link is broken', 404: 'Nothing here', 503: 'Not available right now' };

/** Whether the client prefers HTML to JSON: a browser navigating (its Accept names text/html first). */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  // The common cases without parsing: API clients send no Accept, */* or application/json.
  if (accept === undefined || !accept.includes('text/html')) return false;
  return new Negotiator({ headers: { accept } }).mediaType(['application/json', 'text/html']) === 'text/html';
}

export class PageShell {
  private readonly shell: string | undefined;

  constructor(indexFile: string = path.join(APP_ROOT, 'index.html')) {
    this.shell = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : undefined;
  }

  /** The page with its title and content; throws not_ready when the web app was not built. */
  render(title: string, content: string): string {
    if (!this.shell) throw fail('not_ready', 'The web app is not built: run "npm run build".');
    const safeTitle = escapeMarkup(title);
    // Replaced by functions: a replacement string would read `$&`, `$'` and `$\`` in a title as patterns.
    return this.shell
      .replace('<title>Rostrum</title>', () => `<title>${safeTitle}</title><meta property="og:title" content="${safeTitle}">`)
      .replace('<!--ssr-->', () => content);
  }

  /** Sends a page (200) that shared caches may keep for `maxAge` seconds. */
  send(reply: FastifyReply, title: string, content: string, maxAge: number): FastifyReply {
    const html = this.render(title, content);
    return reply.headers(PAGE_HEADERS).header('cache-control', `public, max-age=${maxAge}`).type('text/html; charset=utf-8').send(html);
  }

  /**
   * The error as a page: the status and code of the JSON error, its message, and a link home. The
   * app's script sees `data-error` and leaves the page as it is.
   */
  sendError(reply: FastifyReply, err: RostrumError): FastifyReply {
    const heading = HEADINGS[err.status] ?? 'Something went wrong';
    const content =
      `<main class="error-page" data-error="${err.code}"><h1>${heading}</h1>` +
      `<p>${escapeMarkup(err.message)}</p><p><a href="/">Go to the Rostrum home page</a></p></main>`;
    // Without a built web app, the same content on a bare page.
    const html = this.shell
      ? this.render(`${heading} · Rostrum`, content)
      : `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${heading}</title></head><body>${content}</body></html>`;
    if (err.retryAfter !== undefined) reply.header('retry-after', String(Math.ceil(err.retryAfter)));
    return reply.code(err.status).headers(PAGE_HEADERS).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
  }
}
