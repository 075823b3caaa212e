/**
 * The audience plane's writes: join (no auth for a public space; works in the lobby too),
 * heartbeat, reactions, reminders. Join is the flash-crowd hot path: one in-memory lookup, one HMAC.
 */

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { LiveSpace } from '../../control/live-space.js';
import { asSpaceId } from '../../ids.js';
import { actorOf, claimsOf, optionalClaims } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { joinBody } from '../join-body.js';
import {
  EmptyBody,
  ErrorResponses,
  JoinBodySchema,
  JoinResponse,
  NoContent,
  ReactionBody,
  ReminderResponse,
  SpaceIdParam,
} from '../schemas.js';

export function audienceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { audience, tokens, urls, metrics, waitingRoom } = deps;

  r.post(
    '/api/spaces/:id/join',
    {
      schema: {
        tags: ['audience'],
        summary: 'Join as a listener: a signed listener token and the URLs a player needs',
        description: 'No auth for a public space. A token minted by the operator for this space carries its identity over.',
        params: SpaceIdParam,
        body: JoinBodySchema,
        response: { 200: JoinResponse, ...ErrorResponses },
      },
      // New joins are the first thing shed when the server is overloaded.
      config: { lane: 'sheddable' },
    },
    // Not async: when the space is in memory (always, once anyone joined), the join completes
    // synchronously — no promise, no microtask — and the body is prebuilt (see join-body.ts).
    (request, typedReply) => {
      const reply = typedReply as FastifyReply;
      const claims = optionalClaims(request, tokens);
      const answer = (live: LiveSpace): void => {
        if (waitingRoom && live.space.state !== 'ended') {
          const arrival = waitingRoom.arrive(live.space.id, request.body?.ticket);
          if (!arrival.admit) {
            // In line: a signed ticket, the place and the wait; come back with it after Retry-After.
            reply
              .code(202)
              .header('cache-control', 'no-store')
              .header('retry-after', String(arrival.grant.retryAfterSeconds))
              .type('application/json; charset=utf-8')
              .serializer((payload) => JSON.stringify(payload))
              .send({ queued: true, ...arrival.grant });
            return;
          }
        }
        const grant = audience.join(live, claims);
        metrics.joins.inc();
        reply
          .header('cache-control', 'no-store')
          .type('application/json; charset=utf-8')
          .serializer((payload) => payload as string)
          .send(joinBody(live, grant, urls, audience.heartbeatIntervalSeconds));
      };
      const id = asSpaceId(request.params.id);
      const held = audience.held(id);
      if (!held) return audience.resolve(id).then(answer);
      answer(held);
      return undefined;
    },
  );

  r.post(
    '/api/spaces/:id/heartbeat',
    {
      schema: {
        tags: ['audience'],
        summary: 'I am still listening',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 204: NoContent, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await audience.heartbeat(asSpaceId(request.params.id), claimsOf(request, tokens));
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/spaces/:id/reactions',
    {
      // Keyed by the bearer token (a forged one only spends its own bucket), else by address.
      config: { rateLimit: { max: deps.reactionLimit, timeWindow: 10_000, keyGenerator: (req) => req.headers.authorization ?? req.ip } },
      schema: {
        tags: ['audience'],
        summary: 'Send a reaction',
        params: SpaceIdParam,
        body: ReactionBody,
        response: { 202: NoContent, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await audience.react(asSpaceId(request.params.id), actorOf(request, tokens), request.body.emoji);
      return reply.code(202).send(null);
    },
  );

  r.put(
    '/api/spaces/:id/reminder',
    {
      // A durable write: limited per address, like requests to speak.
      config: { rateLimit: { max: deps.requestLimit, timeWindow: 60_000 } },
      schema: {
        tags: ['audience'],
        summary: 'Remind me when this scheduled space starts',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: ReminderResponse, ...ErrorResponses },
      },
    },
    async (request) => audience.remind(asSpaceId(request.params.id), actorOf(request, tokens), true),
  );

  r.delete(
    '/api/spaces/:id/reminder',
    {
      schema: {
        tags: ['audience'],
        summary: 'Cancel my reminder',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: ReminderResponse, ...ErrorResponses },
      },
    },
    async (request) => audience.remind(asSpaceId(request.params.id), actorOf(request, tokens), false),
  );
}
