/**
 * Stage and moderation over HTTP. Every endpoint needs a token for the space; what it may do is
 * decided by control/permissions.ts, never here.
 */

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Actor } from '../../control/actor.js';
import type { StageMember as Member } from '../../control/model.js';
import { asIdentity, asSpaceId, type Identity, type SpaceId } from '../../ids.js';
import { actorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { presentMember, presentRequest } from '../present.js';
import {
  AuthErrors,
  AuthWriteErrors,
  EmptyBody,
  ErrorResponses,
  Ok,
  RequestList,
  SpaceIdParam,
  StageMember,
  StageRequest,
  TargetParams,
} from '../schemas.js';

const MemberOrOk = { 200: Type.Union([StageMember, Ok]), ...AuthWriteErrors };

type TargetAction = (space: SpaceId, actor: Actor, target: Identity) => Promise<Member | null>;

export function stageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { stage, tokens } = deps;
  const who = (request: FastifyRequest) => actorOf(request, tokens);
  const answer = (m: Member | null) => (m ? presentMember(m) : { ok: true as const });
  /** For actions whose answer is only that they happened. */
  const done = (promise: Promise<void>) => promise.then(() => null);

  r.post(
    '/api/spaces/:id/stage',
    {
      schema: {
        tags: ['stage'],
        operationId: 'takeSeat',
        summary: 'Take a stage seat with a speaker or co-host token',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: StageMember, ...AuthWriteErrors },
      },
    },
    async (request) => presentMember(await stage.takeSeat(asSpaceId(request.params.id), who(request))),
  );

  r.delete(
    '/api/spaces/:id/stage',
    {
      schema: {
        tags: ['stage'],
        operationId: 'leaveStage',
        summary: 'Leave the stage (keep listening)',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: Ok, ...AuthWriteErrors },
      },
    },
    async (request) => {
      await stage.leave(asSpaceId(request.params.id), who(request));
      return { ok: true as const };
    },
  );

  r.get(
    '/api/spaces/:id/requests',
    {
      config: { compress: 'each' },
      schema: {
        tags: ['stage'],
        operationId: 'listRequests',
        summary: 'The request-to-speak queue (host, co-hosts)',
        params: SpaceIdParam,
        response: { 200: RequestList, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      const list = await stage.listRequests(asSpaceId(request.params.id), who(request));
      return { requests: list.map(presentRequest) };
    },
  );

  r.post(
    '/api/spaces/:id/requests',
    {
      // Each request is a durable write: limited per address, so a crowd of fresh anonymous joins cannot flood the disk.
      config: { limits: ['request', 'write'] },
      schema: {
        tags: ['stage'],
        operationId: 'requestToSpeak',
        summary: 'Ask to speak',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: StageRequest, ...AuthWriteErrors },
      },
    },
    async (request) => presentRequest(await stage.requestToSpeak(asSpaceId(request.params.id), who(request))),
  );

  r.delete(
    '/api/spaces/:id/requests',
    {
      schema: {
        tags: ['stage'],
        operationId: 'withdrawRequest',
        summary: 'Withdraw your request to speak',
        params: SpaceIdParam,
        body: EmptyBody,
        response: { 200: Ok, ...AuthWriteErrors },
      },
    },
    async (request) => {
      await stage.cancelRequest(asSpaceId(request.params.id), who(request));
      return { ok: true as const };
    },
  );

  r.post(
    '/api/spaces/:id/invite/accept',
    {
      schema: {
        tags: ['stage'],
        operationId: 'acceptInvite',
        summary: 'Accept your invitation to speak',
        params: SpaceIdParam,
        body: EmptyBody,
        response: MemberOrOk,
      },
    },
    async (request) => answer(await stage.respondToInvite(asSpaceId(request.params.id), who(request), true)),
  );

  r.post(
    '/api/spaces/:id/invite/decline',
    {
      schema: {
        tags: ['stage'],
        operationId: 'declineInvite',
        summary: 'Decline your invitation to speak',
        params: SpaceIdParam,
        body: EmptyBody,
        response: MemberOrOk,
      },
    },
    async (request) => answer(await stage.respondToInvite(asSpaceId(request.params.id), who(request), false)),
  );

  // Actions on one participant: POST /api/spaces/:id/participants/:identity/<verb>.
  // Each with its OpenAPI operationId (stable: clients generated from the document call them by it).
  const targetActions: Record<string, { operationId: string; summary: string; run: TargetAction }> = {
    approve: {
      operationId: 'approveRequest',
      summary: 'Approve their request to speak',
      run: (s, a, t) => stage.resolveRequest(s, a, t, true),
    },
    decline: {
      operationId: 'declineRequest',
      summary: 'Decline their request to speak',
      run: (s, a, t) => stage.resolveRequest(s, a, t, false),
    },
    invite: { operationId: 'inviteToStage', summary: 'Invite a listener to speak', run: (s, a, t) => done(stage.invite(s, a, t)) },
    mute: {
      operationId: 'muteParticipant',
      summary: 'Mute someone on stage (host, co-hosts, or self)',
      run: (s, a, t) => stage.setMuted(s, a, t, true),
    },
    unmute: {
      operationId: 'unmuteParticipant',
      summary: 'Unmute yourself (only ever self)',
      run: (s, a, t) => stage.setMuted(s, a, t, false),
    },
    'move-to-audience': {
      operationId: 'moveToAudience',
      summary: 'Move a speaker to the audience',
      run: (s, a, t) => done(stage.moveToAudience(s, a, t)),
    },
    remove: {
      operationId: 'removeParticipant',
      summary: 'Remove from the space and revoke their access',
      run: (s, a, t) => done(stage.remove(s, a, t)),
    },
    'appoint-cohost': {
      operationId: 'appointCohost',
      summary: 'Make a speaker a co-host (host)',
      run: (s, a, t) => stage.setCohost(s, a, t, true),
    },
    'dismiss-cohost': {
      operationId: 'dismissCohost',
      summary: 'Make a co-host a speaker again (host)',
      run: (s, a, t) => stage.setCohost(s, a, t, false),
    },
  };
  for (const [verb, { operationId, summary, run }] of Object.entries(targetActions)) {
    r.post(
      `/api/spaces/:id/participants/:identity/${verb}`,
      {
        schema: { tags: ['stage'], operationId, summary, params: TargetParams, body: EmptyBody, response: MemberOrOk },
      },
      async (request) => answer(await run(asSpaceId(request.params.id), who(request), asIdentity(request.params.identity))),
    );
  }
}
