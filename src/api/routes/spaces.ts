/**
 * Spaces: create, list, read, start, end, update, mint tokens (operator), and the cacheable state
 * document everyone polls.
 */

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createToken } from '../../control/tokens.js';
import { fail, RostrumError } from '../../errors.js';
import { asIdentity, asSpaceId } from '../../ids.js';
import { actorOf, operatorOf, optionalClaims } from '../auth.js';
import { spaceCalendar } from '../calendar.js';
import type { ApiDeps } from '../deps.js';
import { presentSpace } from '../present.js';
import type { RateCounting } from '../rate-counter.js';
import { countSpaceCreated } from '../rate-limits.js';
import {
  ActionList,
  AuthErrors,
  AuthWriteErrors,
  CreatedSpace,
  CreateSpaceBody,
  EmptyBody,
  ErrorResponses,
  LimitQuery,
  ListQuery,
  NotModified,
  PinnedLinkBody,
  Space,
  SpaceIdParam,
  SpaceList,
  StateDocument,
  TokenBody,
  TokenResponse,
  UpdateSpaceBody,
} from '../schemas.js';
import { parseTime } from '../time.js';

const HOST_TOKEN_TTL_S = 24 * 3600;
const DEFAULT_TOKEN_TTL_S = 6 * 3600;

/** `spaceCreations`: spaces created per operator identity per hour (rate-limits.ts), when capped. */
export function spaceRoutes(app: FastifyInstance, deps: ApiDeps, spaceCreations?: RateCounting): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { spaces, tokens, urls, states, credentials } = deps;
  const mint = (space: string, identity: string, name: string | undefined, role: TokenBody['role'], ttlSeconds: number) =>
    createToken({ ...credentials, space, identity, ...(name ? { name } : {}), role, ttlSeconds });

  r.post(
    '/api/spaces',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'createSpace',
        summary: 'Create a space (operator)',
        body: CreateSpaceBody,
        response: { 201: CreatedSpace, ...AuthWriteErrors },
      },
    },
    async (request, reply) => {
      const actor = operatorOf(request, tokens);
      countSpaceCreated(spaceCreations, actor.identity);
      const body = request.body;
      const hostIdentity = asIdentity(body.host?.identity ?? 'host');
      const live = await spaces.create(actor, {
        title: body.title,
        ...(body.scheduledStart ? { scheduledStart: parseTime(body.scheduledStart, 'scheduledStart') } : {}),
        recording: body.recording ?? true,
        autoStart: body.autoStart ?? false,
        hostIdentity,
        hostName: body.host?.name ?? 'Host',
        startNow: body.startNow ?? false,
      });
      const s = live.space;
      const hostToken = mint(s.id, s.hostIdentity, s.hostName, 'host', HOST_TOKEN_TTL_S);
      reply.code(201);
      return { ...presentSpace(s, urls), hostToken, hostUrl: `${urls.page(s.id)}#token=${hostToken}` };
    },
  );

  r.get(
    '/api/spaces',
    {
      config: { compress: 'each' },
      schema: {
        tags: ['spaces'],
        operationId: 'listSpaces',
        security: [],
        summary: 'List spaces, newest first',
        querystring: ListQuery,
        response: { 200: SpaceList, ...ErrorResponses },
      },
    },
    async (request) => {
      const { state, limit = 100 } = request.query;
      const list = await spaces.list({ ...(state ? { states: [state] } : {}), limit });
      return { spaces: list.map((s) => presentSpace(s, urls)) };
    },
  );

  r.get(
    '/api/spaces/:id',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'getSpace',
        security: [],
        summary: 'One space',
        params: SpaceIdParam,
        response: { 200: Space, ...ErrorResponses },
      },
    },
    async (request) => {
      const id = asSpaceId(request.params.id);
      const live = await spaces.get(id);
      if (!optionalClaims(request, tokens)?.operator) return presentSpace(live.space, urls);
      const owner = await deps.ownership.ownerOf(id).catch((err: unknown) => {
        if (err instanceof RostrumError && err.code === 'cluster_unavailable') return null;
        throw err;
      });
      return { ...presentSpace(live.space, urls), ownerNode: owner?.id ?? null };
    },
  );

  r.patch(
    '/api/spaces/:id',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'updateSpace',
        summary: 'Change title, recording, start time or auto-start (host)',
        params: SpaceIdParam,
        body: UpdateSpaceBody,
        response: { 200: Space, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const { title, recording, scheduledStart, autoStart } = request.body;
      const space = await spaces.update(actorOf(request, tokens), asSpaceId(request.params.id), {
        ...(title !== undefined ? { title } : {}),
        ...(recording !== undefined ? { recording } : {}),
        ...(autoStart !== undefined ? { autoStart } : {}),
        ...(scheduledStart !== undefined
          ? { scheduledStart: scheduledStart === null ? null : parseTime(scheduledStart, 'scheduledStart') }
          : {}),
      });
      return presentSpace(space, urls);
    },
  );

  r.put(
    '/api/spaces/:id/pinned-link',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'pinLink',
        summary: 'Pin a link for listeners, replacing the last (host, co-host): shown as text, kept with the replay',
        params: SpaceIdParam,
        body: PinnedLinkBody,
        response: { 200: Space, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const { url, title } = request.body;
      return presentSpace(await spaces.pin(actorOf(request, tokens), asSpaceId(request.params.id), { url, title }), urls);
    },
  );

  r.delete(
    '/api/spaces/:id/pinned-link',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'unpinLink',
        summary: 'Take the pinned link down (host, co-host)',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: Space, ...AuthWriteErrors },
      },
    },
    async (request) => presentSpace(await spaces.pin(actorOf(request, tokens), asSpaceId(request.params.id), null), urls),
  );

  r.post(
    '/api/spaces/:id/start',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'startSpace',
        summary: 'Go live (host)',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: Space, ...AuthWriteErrors },
      },
    },
    async (request) => presentSpace(await spaces.start(actorOf(request, tokens), asSpaceId(request.params.id)), urls),
  );

  r.post(
    '/api/spaces/:id/end',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'endSpace',
        summary: 'End the space (host)',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: Space, ...AuthWriteErrors },
      },
    },
    async (request) => presentSpace(await spaces.end(actorOf(request, tokens), asSpaceId(request.params.id)), urls),
  );

  r.post(
    '/api/spaces/:id/tokens',
    {
      // Minting reads the space and signs: any node.
      config: { anyNode: true },
      schema: {
        tags: ['spaces'],
        operationId: 'mintToken',
        summary: 'Mint a token for an identity in this space (operator)',
        params: SpaceIdParam,
        body: TokenBody,
        response: { 201: TokenResponse, ...AuthWriteErrors },
      },
    },
    async (request, reply) => {
      const { identity, name, role, ttlSeconds = DEFAULT_TOKEN_TTL_S } = request.body;
      const space = await spaces.grant(operatorOf(request, tokens), asSpaceId(request.params.id), asIdentity(identity), role);
      const token = mint(space.id, identity, name ?? (role === 'host' ? space.hostName : undefined), role, ttlSeconds);
      reply.code(201);
      return { token, identity, role, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() };
    },
  );

  r.get(
    '/api/spaces/:id/actions',
    {
      config: { compress: 'each' },
      schema: {
        tags: ['spaces'],
        operationId: 'listActions',
        summary: 'The moderation log, oldest first (host, co-hosts)',
        params: SpaceIdParam,
        querystring: LimitQuery,
        response: { 200: ActionList, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      const list = await spaces.actions(actorOf(request, tokens), asSpaceId(request.params.id), request.query.limit ?? 200);
      return { actions: list.map((a) => ({ ...a, at: new Date(a.at).toISOString() })) };
    },
  );

  r.get(
    '/api/spaces/:id/calendar.ics',
    {
      config: { lane: 'reads' },
      schema: {
        tags: ['audience'],
        operationId: 'getSpaceCalendar',
        security: [],
        summary: 'The scheduled space as a calendar event (RFC 5545), to add to a calendar',
        params: SpaceIdParam,
        response: {
          200: { description: 'The event (text/calendar).', content: { 'text/calendar': { schema: { type: 'string' } } } },
          ...ErrorResponses,
        },
      },
    },
    async (request, typedReply) => {
      const reply = typedReply as FastifyReply;
      const { space } = await spaces.get(asSpaceId(request.params.id));
      if (space.scheduledStart === null && space.startedAt === null) {
        throw fail('calendar_not_found', 'This space has no start time: it is not on any calendar yet.');
      }
      return reply
        .type('text/calendar; charset=utf-8')
        .header('cache-control', 'public, max-age=60')
        .header('content-disposition', `attachment; filename="${space.id}.ics"`)
        .send(spaceCalendar(space, urls.page(space.id)));
    },
  );

  r.get(
    '/api/spaces/:id/state',
    {
      config: { lane: 'reads', compress: 'shared' },
      schema: {
        tags: ['audience'],
        operationId: 'getSpaceState',
        security: [],
        summary: 'The space state document (cacheable for 1 s)',
        params: SpaceIdParam,
        response: { 200: StateDocument, 304: NotModified, ...ErrorResponses },
      },
    },
    async (request, typedReply) => {
      // The body is serialised once a second by StateDocuments, not per request: send it as it is.
      const reply = typedReply as FastifyReply;
      const live = await spaces.get(asSpaceId(request.params.id));
      const doc = states.get(live);
      reply.header('cache-control', 'public, max-age=1').header('etag', doc.etag);
      // Weak comparison (RFC 9110 §13.1.2): a gzipped copy went out with the ETag made weak.
      const match = request.headers['if-none-match'];
      if (match?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === doc.etag || tag.trim() === '*')) {
        return reply.code(304).send();
      }
      return reply
        .type('application/json; charset=utf-8')
        .serializer((payload) => payload as string)
        .send(doc.body);
    },
  );
}
