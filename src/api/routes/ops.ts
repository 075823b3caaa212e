/**
 * Operations: liveness (never depends on another service), readiness (the node's own dependencies
 * answer; it names the node, what each interface runs on and whether each engine answers — a shared
 * engine being away is reported, never a reason to leave the pool; a ready node also lists the
 * misconfigurations it noticed, as warnings with a code), Prometheus metrics, and the OpenAPI document.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { operatorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import type { ReadinessWarning } from '../proxy-watch.js';
import { AuthErrors, AuthWriteErrors, ErrorResponses, PowSetBody, PowStatus } from '../schemas.js';

export interface OpsState {
  /** True from the start of shutdown: /readyz answers 503. */
  isDraining: () => boolean;
  /** Misconfigurations a ready node reports (it still serves): /readyz lists them with a code each. */
  warnings: () => ReadinessWarning[];
}

export function opsRoutes(app: FastifyInstance, deps: ApiDeps, state: OpsState): void {
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (state.isDraining()) throw fail('shutting_down', undefined, 1);
    try {
      await deps.checkReady();
    } catch (err) {
      throw fail('not_ready', `Not ready: ${(err as Error).message}`, 5);
    }
    const warnings = state.warnings();
    // Public (balancers read it): no addresses, no error texts — those are in the log.
    const { node, implementations, engines } = deps.cluster();
    const body = {
      status: 'ready',
      node: node.id,
      implementations,
      engines: Object.fromEntries(
        engines.map((e) => [
          e.engine,
          {
            up: e.up,
            shared: e.shared,
            uses: e.uses,
            ...(e.latencyMs !== undefined ? { latencyMs: Math.round(e.latencyMs * 10) / 10 } : {}),
          },
        ]),
      ),
    };
    return warnings.length > 0 ? { ...body, warnings } : body;
  });

  app.get('/metrics', { schema: { hide: true }, config: { compress: 'each' } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store').type(deps.metrics.registry.contentType);
    return deps.metrics.render();
  });

  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/admin/pow',
    {
      schema: {
        tags: ['ops'],
        operationId: 'getProofOfWork',
        summary: 'Proof of work on joins: mode, level, difficulty (operator)',
        response: { 200: PowStatus, ...ErrorResponses, ...AuthErrors },
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
        operationId: 'setProofOfWork',
        summary: 'Switch proof of work on joins: on (at a level), off, or auto (operator)',
        body: PowSetBody,
        response: { 200: PowStatus, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const actor = operatorOf(request, deps.tokens);
      const status = deps.pow.set(request.body.mode, request.body.level);
      request.log.warn({ actor: actor.identity, ...status }, 'proof of work switched by the operator');
      return status;
    },
  );

  app.get('/api/openapi.json', { schema: { hide: true }, config: { compress: 'shared' } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    // The server, as every link Rostrum hands out: from the configured public URL.
    return { ...app.swagger(), servers: [{ url: deps.urls.base }] };
  });
}
