/**
 * Operations: liveness (never depends on another service), readiness (its dependencies answer),
 * Prometheus metrics, and the OpenAPI document.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { operatorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ErrorResponses, PowSetBody, PowStatus } from '../schemas.js';

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
    return deps.metrics.render();
  });

  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/admin/pow',
    {
      schema: {
        tags: ['ops'],
        summary: 'Proof of work on joins: mode, level, difficulty (operator)',
        response: { 200: PowStatus, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      operatorOf(request, deps.tokens);
      reply.header('cache-control', 'no-store');
      return deps.pow.status();
    },
  );
  r.put(
    '/api/admin/pow',
    {
      schema: {
        tags: ['ops'],
        summary: 'Switch proof of work on joins: on (at a level), off, or auto (operator)',
        body: PowSetBody,
        response: { 200: PowStatus, ...ErrorResponses },
      },
    },
    async (request) => {
      const actor = operatorOf(request, deps.tokens);
      const status = deps.pow.set(request.body.mode, request.body.level);
      request.log.warn({ actor: actor.identity, ...status }, 'proof of work switched by the operator');
      return status;
    },
  );

  app.get('/api/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return app.swagger();
  });
}
