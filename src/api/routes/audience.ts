/**
 * The audience plane's writes: join (no auth for a public space; works in the lobby too),
 * heartbeat, reactions, reminders. Join is the flash-crowd hot path: one in-memory lookup, one HMAC.
 */

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { LiveSpace } from '../../control/live-space.js';
import { fail } from '../../errors.js';
import { asSpaceId } from '../../ids.js';
import { actorOf, claimsOf, optionalClaims } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { answerComeBack, answerJoin, type JoinAnswer } from '../join-answer.js';
import {
  AudienceList,
  AudienceQuery,
  AuthErrors,
  AuthWriteErrors,
  EmptyBody,
  ErrorResponses,
  InviteTagResponse,
  JoinBodySchema,
  JoinErrors,
  JoinResponse,
  NoContent,
  PageQuery,
  PowChallenge,
  QueuedResponse,
  ReactionBody,
  ReminderList,
  ReminderResponse,
  SpaceIdParam,
  WriteErrors,
} from '../schemas.js';

export function audienceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { audience, tokens, pow } = deps;

  r.post(
    '/api/spaces/:id/join',
    {
      schema: {
        tags: ['audience'],
        operationId: 'joinSpace',
        security: [{}, { bearer: [] }],
        summary: 'Join as a listener: a signed listener token and the URLs a player needs',
        description:
          'No auth for a public space. A token minted by the operator for this space carries its identity over. When joins are admitted at a rate, the answer may be 202: a place in the waiting room (come back with its ticket after Retry-After). Under attack it may be 403 pow_required: solve GET /api/spaces/{id}/challenge and join with {"pow": …}.',
        params: SpaceIdParam,
        body: JoinBodySchema,
        response: { 200: JoinResponse, 202: QueuedResponse, ...JoinErrors },
      },
      // New joins are the first thing shed when the server is overloaded.
      config: { lane: 'sheddable', limits: ['join'], anyNode: true },
    },
    // Not async: when the space is in memory (always, once anyone joined), the join completes
    // synchronously — no promise, no microtask — and the body is prebuilt (see join-body.ts).
    (request, typedReply) => {
      const reply = typedReply as FastifyReply;
      const claims = optionalClaims(request, tokens);
      const ticket = request.body?.ticket;
      const send = (answered: JoinAnswer): void => {
        if (answered.retryAfter !== undefined) reply.header('retry-after', String(answered.retryAfter));
        reply
          .code(answered.status)
          .header('cache-control', 'no-store')
          .type('application/json; charset=utf-8')
          .serializer((payload) => payload as string)
          .send(answered.body);
      };
      // A newcomer is answered synchronously; a ticket coming back may need the other nodes (a promise).
      const answer = (live: LiveSpace): Promise<void> | undefined => {
        if (ticket === undefined) {
          send(answerJoin(deps, live, claims, 'route'));
          return undefined;
        }
        const answered = answerComeBack(deps, live, claims, ticket);
        if (answered instanceof Promise) return answered.then(send);
        send(answered);
        return undefined;
      };
      const id = asSpaceId(request.params.id);
      // Under attack a join needs a proof of work — unless it brings a waiting-room ticket, which
      // it got after proving its work (or before the attack began).
      if (pow.required && ticket === undefined) {
        const solution = request.body?.pow;
        if (solution === undefined) {
          pow.notePressure();
          throw fail('pow_required');
        }
        return pow
          .verify(id, solution)
          .then(() => audience.held(id) ?? audience.resolve(id))
          .then(answer);
      }
      const held = audience.held(id);
      if (!held) return audience.resolve(id).then(answer);
      return answer(held);
    },
  );

  r.get(
    '/api/spaces/:id/challenge',
    {
      schema: {
        tags: ['audience'],
        operationId: 'getJoinChallenge',
        security: [],
        summary: 'A proof-of-work challenge to solve before joining, when joins need one',
        description:
          'Solve with altcha-lib (SHA-256, counters from 0) and join with {"pow": base64(JSON {challenge, solution})}. Each challenge admits one join within two minutes.',
        params: SpaceIdParam,
        response: { 200: PowChallenge, ...ErrorResponses, 429: WriteErrors[429] },
      },
      // Making a challenge costs a hash and two HMACs: shed and limited like the joins it precedes.
      config: { lane: 'sheddable', limits: ['join'], anyNode: true },
    },
    async (request, reply) => {
      const id = asSpaceId(request.params.id);
      await (audience.held(id) ?? audience.resolve(id));
      reply.header('cache-control', 'no-store');
      const { required, level } = pow.status();
      return { required, level, challenge: await pow.challenge(id) };
    },
  );

  r.post(
    '/api/spaces/:id/heartbeat',
    {
      schema: {
        tags: ['audience'],
        operationId: 'sendHeartbeat',
        summary: 'I am still listening',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 204: NoContent, ...AuthWriteErrors },
      },
      config: { limits: ['heartbeat', 'addressWrite'], anyNode: true },
    },
    async (request, reply) => {
      await audience.heartbeat(asSpaceId(request.params.id), claimsOf(request, tokens));
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/spaces/:id/invite-tag',
    {
      config: { anyNode: true },
      schema: {
        tags: ['audience'],
        operationId: 'getInviteTag',
        summary: "This token's invite tag: the state document's `invited` lists it while its holder is invited to speak",
        params: SpaceIdParam,
        response: { 200: InviteTagResponse, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request, reply) => {
      const claims = claimsOf(request, tokens);
      const id = asSpaceId(request.params.id);
      if (claims.space !== id) throw fail('token_wrong_space');
      reply.header('cache-control', 'private, max-age=3600');
      return { inviteTag: deps.inviteTags.tag(id, claims.sub) };
    },
  );

  r.post(
    '/api/spaces/:id/reactions',
    {
      config: { limits: ['reaction', 'addressWrite'], anyNode: true },
      schema: {
        tags: ['audience'],
        operationId: 'sendReaction',
        summary: 'Send a reaction',
        params: SpaceIdParam,
        body: ReactionBody,
        response: { 202: NoContent, ...AuthWriteErrors },
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
      config: { limits: ['request', 'write'], anyNode: true },
      schema: {
        tags: ['audience'],
        operationId: 'setReminder',
        summary: 'Remind me when this scheduled space starts',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: ReminderResponse, ...AuthWriteErrors },
      },
    },
    async (request) => audience.remind(asSpaceId(request.params.id), actorOf(request, tokens), true),
  );

  r.get(
    '/api/spaces/:id/reminders',
    {
      schema: {
        tags: ['audience'],
        operationId: 'listReminders',
        summary: 'Who asked to be reminded, oldest first (operator: its own channels deliver reminders)',
        params: SpaceIdParam,
        querystring: PageQuery,
        response: { 200: ReminderList, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const { limit = 500, after = 0 } = request.query;
      const page = await audience.reminders(asSpaceId(request.params.id), actorOf(request, tokens), limit, after);
      return { count: page.count, reminders: page.reminders.map((r) => ({ identity: r.identity, at: new Date(r.at).toISOString() })) };
    },
  );

  r.get(
    '/api/spaces/:id/audience',
    {
      // Every node reads the same roster (Redis when several run).
      config: { anyNode: true },
      schema: {
        tags: ['audience'],
        operationId: 'listAudience',
        summary:
          'Listeners whose token carries a name, listening now, newest first — to invite them to speak (host, co-hosts, operator); anonymous ones are counted in `listening`, not listed',
        params: SpaceIdParam,
        querystring: AudienceQuery,
        response: { 200: AudienceList, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request, reply) => {
      const { limit = 50, after } = request.query;
      const page = await audience.audience(asSpaceId(request.params.id), actorOf(request, tokens), limit, after);
      reply.header('cache-control', 'private, no-store');
      return {
        listening: page.listening,
        listeners: page.listeners.map((l) => ({ identity: l.identity, name: l.name, joinedAt: new Date(l.joinedAt).toISOString() })),
        next: page.next,
      };
    },
  );

  r.delete(
    '/api/spaces/:id/reminder',
    {
      config: { anyNode: true },
      schema: {
        tags: ['audience'],
        operationId: 'cancelReminder',
        summary: 'Cancel my reminder',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: ReminderResponse, ...AuthWriteErrors },
      },
    },
    async (request) => audience.remind(asSpaceId(request.params.id), actorOf(request, tokens), false),
  );
}
