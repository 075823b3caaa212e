/**
 * A host's podcast settings (operator): GET/PUT /api/hosts/:identity/feed — what the host's feed says
 * about the show (title, description, author, owner, artwork, category, explicit, language, link);
 * what is not set falls back to the defaults (control/host-feed.ts).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { APPLE_CATEGORIES, type AppleCategory, FEED_DEFAULTS, type HostFeed } from '../../control/host-feed.js';
import { asIdentity, IDENTITY_PATTERN } from '../../ids.js';
import { operatorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { AuthErrors, AuthWriteErrors, closed, ErrorResponses } from '../schemas.js';
import { HTTP_URL, TEXT_LINE } from '../validation.js';

const HostParam = Type.Object({ identity: Type.String({ pattern: IDENTITY_PATTERN }) }, closed);
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, format: TEXT_LINE });
const Url = Type.String({ maxLength: 2048, format: HTTP_URL, description: 'An http or https URL.' });
const HostFeedBody = Type.Object(
  {
    title: Type.Optional(Text(200)),
    description: Type.Optional(Text(4000)),
    author: Type.Optional(Text(200)),
    ownerName: Type.Optional(Text(200)),
    ownerEmail: Type.Optional(Type.String({ maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' })),
    imageUrl: Type.Optional({ ...Url, description: 'The show’s artwork: a square JPEG or PNG, 1400 to 3000 pixels.' }),
    category: Type.Optional(
      Type.Unsafe<AppleCategory>({ type: 'string', enum: [...APPLE_CATEGORIES], description: "One of Apple Podcasts' categories." }),
    ),
    subcategory: Type.Optional(Text(100)),
    explicit: Type.Optional(Type.Boolean()),
    language: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35 })),
    link: Type.Optional(Url),
  },
  closed,
);
const HostFeedAnswer = Type.Object({
  ...HostFeedBody.properties,
  defaults: Type.Object({ category: Type.String(), explicit: Type.Boolean(), language: Type.String() }),
});

export function hostRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const answer = (settings: HostFeed | undefined) => ({ ...settings, defaults: FEED_DEFAULTS });

  r.get(
    '/api/hosts/:identity/feed',
    {
      schema: {
        tags: ['feeds'],
        operationId: 'getHostFeed',
        summary: "A host's podcast settings, and the defaults for what is not set (operator)",
        params: HostParam,
        response: { 200: HostFeedAnswer, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      operatorOf(request, deps.tokens);
      return answer(await deps.spaces.hostFeed(asIdentity(request.params.identity)));
    },
  );

  r.put(
    '/api/hosts/:identity/feed',
    {
      schema: {
        tags: ['feeds'],
        operationId: 'setHostFeed',
        summary: "Set a host's podcast settings: the whole set, replacing the last (operator)",
        params: HostParam,
        body: HostFeedBody,
        response: { 200: HostFeedAnswer, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const actor = operatorOf(request, deps.tokens);
      const settings: HostFeed = request.body;
      return answer(await deps.spaces.setHostFeed(actor, asIdentity(request.params.identity), settings));
    },
  );
}
