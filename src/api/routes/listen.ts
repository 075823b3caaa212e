/**
 * `GET /listen/<id>.aac`: a live space as one progressive ADTS AAC stream, for any player (radio
 * apps, smart speakers, VLC, ffmpeg, a plain <audio>) — broadcast/live-stream.ts. Served by the node
 * that runs the space (others forward it there, forward.ts); behind an nginx edge with nchan
 * (deploy/nginx/stream.conf) the edge serves it instead and this route is not reached.
 * The stream starts at the next part; it ends when the broadcast ends. Icecast's listeners' headers
 * (icy-name, icy-description) say what is on.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { LiveStream } from '../../broadcast/live-stream.js';
import { fail } from '../../errors.js';
import { asSpaceId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { ErrorResponses, SpaceIdParam } from '../schemas.js';
import { STARTING_WAIT_MS } from './broadcast.js';

/** A header value from a title: printable ASCII only (HTTP/1.1 headers are Latin-1 and some players are older than that). */
const headerText = (text: string): string => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);

export function listenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { audience, broadcaster } = deps;

  /** The space, if its stream is on: 404 no such space, 409 not live (not yet, or no more). */
  const liveSpace = async (raw: string) => {
    const id = asSpaceId(raw);
    const live = audience.held(id) ?? (await audience.resolve(id));
    if (live.space.state === 'scheduled') throw fail('space_not_live', 'The space has not started; its stream begins when it goes live.');
    if (live.space.state === 'ended')
      throw fail('space_ended', 'The space has ended; its recording (if kept) is at /api/spaces/:id/recording.m4a.');
    return live;
  };

  r.get(
    '/api/spaces/:id/stream',
    {
      config: { lane: 'reads' },
      schema: {
        tags: ['broadcast'],
        operationId: 'getLiveStream',
        summary: 'Whether the progressive stream is on, and where (an edge with nchan asks this before it lets a listener in)',
        security: [],
        params: SpaceIdParam,
        response: {
          200: Type.Object({ live: Type.Literal(true), url: Type.String(), contentType: Type.Literal('audio/aac') }),
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const live = await liveSpace(request.params.id);
      reply.header('cache-control', 'public, max-age=1');
      return { live: true as const, url: `/listen/${live.space.id}.aac`, contentType: 'audio/aac' as const };
    },
  );

  r.get(
    '/listen/:id.aac',
    {
      // A listener's read (served under overload: lanes.ts), on the node that runs the space.
      config: { lane: 'reads', owner: true },
      schema: {
        tags: ['broadcast'],
        operationId: 'listenLive',
        summary: 'The live broadcast as one progressive ADTS AAC stream (Icecast-style), from the next part until the space ends',
        security: [],
        params: SpaceIdParam,
        response: {
          200: { description: 'ADTS AAC, sent as it is made.', content: { 'audio/aac': { schema: { type: 'string', format: 'binary' } } } },
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const live = await liveSpace(request.params.id);
      const id = live.space.id;
      let stream: LiveStream | undefined = await broadcaster.liveStream(id);
      for (const until = Date.now() + STARTING_WAIT_MS; !stream && live.space.state === 'live' && Date.now() < until; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        stream = await broadcaster.liveStream(id);
      }
      if (!stream) throw fail('broadcast_starting', undefined, 1);
      // The body is the stream itself: the reply is taken over (no JSON, no compression, no length).
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'content-type': 'audio/aac',
        'cache-control': 'no-cache, no-store',
        'access-control-allow-origin': '*',
        'x-content-type-options': 'nosniff',
        'icy-name': headerText(live.space.title),
        'icy-description': headerText(`Live with ${live.space.hostName}`),
      });
      if (request.method === 'HEAD') {
        response.end();
        return;
      }
      response.flushHeaders();
      stream.listen(response);
    },
  );
}
