/**
 * CORS preflight: a page on another origin (an operator's own site using the public API) asks
 * `OPTIONS` before a request a browser does not send blindly — one with `Authorization: Bearer`, a
 * JSON body, or `If-None-Match`. Answered 204 with what the path takes; the answers themselves carry
 * `Access-Control-Allow-Origin: *` (security-headers.ts). `*` is safe because Rostrum uses no
 * cookie or other ambient credential: a request from another origin can only do what the bearer
 * token it carries allows, and the browser never adds one by itself.
 * Hand-written rather than @fastify/cors, which adds an onRequest hook to every route (an options
 * object and a closure per request, parts included) for what is here a constant.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../errors.js';
import type { MethodTable } from './method-table.js';

/** Request headers a cross-origin page may send beyond the safelisted ones. */
const ALLOWED_HEADERS = 'Authorization, Content-Type, If-None-Match, Range';
/** How long a browser may reuse a preflight's answer, seconds (Chromium caps it at 2 h, Firefox at 24 h). */
const MAX_AGE_S = 86_400;

export function registerPreflight(app: FastifyInstance, methods: MethodTable): void {
  app.options('*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = methods.allowed(path).filter((method) => method !== 'OPTIONS');
    if (allowed.length === 0) throw fail('route_not_found', `No endpoint at ${path}.`);
    reply.header('allow', [...allowed, 'OPTIONS'].join(', ')).header('cache-control', 'no-store');
    // A preflight (it names the method to come) on a path other origins may use.
    if (request.headers['access-control-request-method'] !== undefined && reply.getHeader('access-control-allow-origin') === '*') {
      reply
        .header('access-control-allow-methods', allowed.join(', '))
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(MAX_AGE_S));
    }
    return reply.code(204).send();
  });
}
