/** GET /api/spaces/:id/analytics: how the show went, for its host, co-hosts and the operator (control/analytics.ts). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { asSpaceId } from '../../ids.js';
import { actorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { iso } from '../present.js';
import { AuthErrors, ErrorResponses, IsoTime, NullableIso, SpaceIdParam } from '../schemas.js';

const Counts = Type.Record(Type.String(), Type.Integer());
const AnalyticsAnswer = Type.Object({
  space: Type.Object({
    id: Type.String(),
    title: Type.String(),
    state: Type.String(),
    startedAt: NullableIso,
    endedAt: NullableIso,
  }),
  listeners: Type.Object({
    peak: Type.Integer({ description: 'Most listening at once.' }),
    unique: Type.Integer({ description: 'Distinct listeners over the whole space (HyperLogLog: within about 1 %).' }),
    minutes: Type.Number({ description: 'Listening minutes: the area under the listeners curve.' }),
    points: Type.Array(Type.Object({ at: IsoTime, listeners: Type.Integer() }), {
      description: 'One point per tally (ROSTRUM_TALLY_INTERVAL_MS), and now or the end.',
    }),
  }),
  reactions: Type.Object({
    total: Counts,
    points: Type.Array(Type.Object({ at: IsoTime, counts: Counts }), { description: 'Reactions since the tally before.' }),
  }),
  replay: Type.Object({ plays: Type.Integer(), downloads: Type.Integer() }),
  speakers: Type.Array(
    Type.Object({ identity: Type.String(), name: Type.String(), seconds: Type.Integer({ description: 'Time on stage.' }) }),
  ),
});

export function analyticsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/spaces/:id/analytics',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'getAnalytics',
        summary:
          'How the show went: listeners over time, peak, unique, listening minutes, reactions, replay plays and downloads, time on stage (host, co-hosts, operator)',
        params: SpaceIdParam,
        response: { 200: AnalyticsAnswer, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request, reply) => {
      const { audience } = deps;
      const a = await deps.spaces.analytics(actorOf(request, deps.tokens), asSpaceId(request.params.id), (live) => {
        const { peak, total } = audience.tallies(live.space.id);
        return { listeners: audience.listeners(live.space.id), peak, unique: total, reactions: audience.reactionTotals(live) };
      });
      const s = a.space;
      reply.header('cache-control', 'private, no-store');
      return {
        space: { id: s.id, title: s.title, state: s.state, startedAt: iso(s.startedAt), endedAt: iso(s.endedAt) },
        listeners: { ...a.listeners, points: a.listeners.points.map((p) => ({ at: iso(p.at) as string, listeners: p.listeners })) },
        reactions: { total: a.reactions.total, points: a.reactions.points.map((p) => ({ at: iso(p.at) as string, counts: p.counts })) },
        replay: a.replay,
        speakers: a.speakers,
      };
    },
  );
}
