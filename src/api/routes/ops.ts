/**
 * Operations: liveness (never depends on another service), readiness (its dependencies answer),
 * Prometheus metrics, and the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { ApiDeps } from '../deps.js';

export function opsRoutes(app: FastifyInstance, deps: ApiDeps, isDraining: () => boolean): void {
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (isDraining()) throw fail('shutting_down', undefined, 1);
    try {
      await deps.checkReady();
    } catch (err) {
      throw fail('not_ready', `Not ready: ${(err as Error).message}`, 5);
    }
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store').type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return app.swagger();
  });
}
