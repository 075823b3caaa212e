/**
 * The host edits an ended space's replay: trims its start and end (whole parts, no re-encode:
 * broadcast/replay-trim.ts), undoes the trim, or deletes the recording. The replay playlist follows
 * at once; the downloadable file is made again (recording_pending meanwhile, then recording.ready to
 * the operator's webhooks); the podcast feed follows the file.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Actor } from '../../control/actor.js';
import type { Space as SpaceRecord } from '../../control/model.js';
import { fail } from '../../errors.js';
import { asSpaceId, type SpaceId } from '../../ids.js';
import { actorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { presentSpace } from '../present.js';
import { AuthWriteErrors, EmptyBody, Space, SpaceIdParam } from '../schemas.js';

/** Seconds on the replay's timeline; a day is far beyond any space. */
const Seconds = (description: string) => Type.Number({ minimum: 0, maximum: 86_400, description });
const TrimBody = Type.Object(
  {
    start: Seconds('Where the replay begins, seconds from the start of the recording.'),
    end: Type.Optional(Seconds('Where it ends, seconds from the start of the recording; left out: at its end.')),
  },
  { additionalProperties: false },
);
const TrimAnswer = Type.Object({
  space: Space,
  trim: Type.Object(
    { start: Type.Number(), end: Type.Number() },
    { description: 'The trim as applied: moved to the nearest part boundaries (about 256 ms).' },
  ),
  kept: Type.Number({ description: 'Seconds the trimmed replay lasts.' }),
  recorded: Type.Number({ description: 'Seconds the whole recording lasts.' }),
});

export function replayRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { spaces, broadcaster, urls, tokens } = deps;

  r.put(
    '/api/spaces/:id/replay/trim',
    {
      schema: {
        tags: ['spaces'],
        operationId: 'trimReplay',
        summary:
          "Trim the replay's start and end (host, operator; ended spaces): cut at part boundaries, no re-encode; the playlist, the download and the feed follow",
        params: SpaceIdParam,
        body: TrimBody,
        response: { 200: TrimAnswer, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const actor = actorOf(request, tokens);
      const id = asSpaceId(request.params.id);
      const { start, end = Number.POSITIVE_INFINITY } = request.body;
      if (end <= start) throw fail('replay_trim_empty', 'The trim must end after it starts.');
      await spaces.replayToEdit(actor, id);
      const snapped = await broadcaster.snapTrim(id, { start, end });
      const space = await spaces.editReplay(actor, id, { replayTrim: snapped.trim });
      void broadcaster.retrim(id, snapped.trim);
      return {
        space: presentSpace(space, urls),
        trim: snapped.trim,
        kept: Math.round((snapped.trim.end - snapped.trim.start) * 1000) / 1000,
        recorded: snapped.duration,
      };
    },
  );

  /** An edit that answers with the space: `edit` runs once the actor may edit this replay (the space before it). */
  const spaceEdit = (
    path: string,
    operationId: string,
    summary: string,
    edit: (actor: Actor, id: SpaceId, before: SpaceRecord) => Promise<SpaceRecord>,
  ) =>
    r.delete(
      path,
      {
        schema: {
          tags: ['spaces'],
          operationId,
          summary,
          params: SpaceIdParam,
          body: EmptyBody,
          response: { 200: Space, ...AuthWriteErrors },
        },
      },
      async (request) => {
        const actor = actorOf(request, tokens);
        const id = asSpaceId(request.params.id);
        return presentSpace(await edit(actor, id, await spaces.replayToEdit(actor, id)), urls);
      },
    );

  spaceEdit(
    '/api/spaces/:id/replay/trim',
    'untrimReplay',
    'Undo the trim: the whole recording is the replay again (host, operator)',
    async (actor, id, before) => {
      const space = await spaces.editReplay(actor, id, { replayTrim: null });
      if (before.replayTrim !== null) void broadcaster.retrim(id, null);
      return space;
    },
  );

  spaceEdit(
    '/api/spaces/:id/recording',
    'deleteRecording',
    'Delete the recording for good: its replay, its file and its feed item (host, operator)',
    async (actor, id) => {
      // Said first: from then on nothing serves it, even if deleting the bytes fails half way (logged;
      // segments left without their finished file are deleted at the next start).
      const space = await spaces.editReplay(actor, id, { recording: false, replayTrim: null });
      await broadcaster.removeRecording(id);
      return space;
    },
  );
}
