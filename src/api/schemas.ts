/**
 * Request and response schemas (TypeBox → JSON Schema). Fastify validates every body, query and
 * param against them, serialises responses with them, and @fastify/swagger publishes them as OpenAPI.
 * Objects are closed: an unknown field is an error, never silently dropped.
 */
import { type Static, Type } from 'typebox';
import { REACTIONS, ROLES, SPACE_STATES, STAGE_ROLES } from '../control/model.js';
import { IDENTITY_PATTERN, SPACE_ID_PATTERN } from '../ids.js';

const closed = { additionalProperties: false } as const;
const IsoTime = Type.String({ format: 'date-time', description: 'ISO-8601 date and time' });
const NullableIso = Type.Union([IsoTime, Type.Null()]);

export const SpaceIdParam = Type.Object({ id: Type.String({ pattern: SPACE_ID_PATTERN }) }, closed);
export const TargetParams = Type.Object(
  { id: Type.String({ pattern: SPACE_ID_PATTERN }), identity: Type.String({ pattern: IDENTITY_PATTERN }) },
  closed,
);

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
/** The error responses every API route documents. */
export const ErrorResponses = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export const Title = Type.String({ minLength: 1, maxLength: 140 });
export const DisplayName = Type.String({ minLength: 1, maxLength: 100 });

export const CreateSpaceBody = Type.Object(
  {
    title: Title,
    scheduledStart: Type.Optional(IsoTime),
    recording: Type.Optional(Type.Boolean({ default: true })),
    host: Type.Optional(Type.Object({ identity: Type.String({ pattern: IDENTITY_PATTERN }), name: Type.Optional(DisplayName) }, closed)),
    startNow: Type.Optional(Type.Boolean({ description: 'Go live at once instead of waiting for start.' })),
  },
  closed,
);
export type CreateSpaceBody = Static<typeof CreateSpaceBody>;

export const UpdateSpaceBody = Type.Object(
  { title: Type.Optional(Title), recording: Type.Optional(Type.Boolean()), scheduledStart: Type.Optional(NullableIso) },
  { ...closed, minProperties: 1 },
);
export type UpdateSpaceBody = Static<typeof UpdateSpaceBody>;

export const Space = Type.Object({
  id: Type.String(),
  title: Type.String(),
  state: Type.Enum(SPACE_STATES),
  host: Type.Object({ identity: Type.String(), name: Type.String() }),
  scheduledStart: NullableIso,
  startedAt: NullableIso,
  endedAt: NullableIso,
  recording: Type.Boolean(),
  createdAt: IsoTime,
  peakListeners: Type.Integer(),
  totalListeners: Type.Integer(),
  listenUrl: Type.String(),
  stateUrl: Type.String(),
});

export const CreatedSpace = Type.Object({ ...Space.properties, hostToken: Type.String(), hostUrl: Type.String() });

export const SpaceList = Type.Object({ spaces: Type.Array(Space) });

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Enum(SPACE_STATES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  closed,
);
export type ListQuery = Static<typeof ListQuery>;

export const StageMember = Type.Object({
  identity: Type.String(),
  name: Type.String(),
  role: Type.Enum(STAGE_ROLES),
  muted: Type.Boolean(),
});

export const StageRequest = Type.Object({ identity: Type.String(), name: Type.String(), requestedAt: IsoTime });
export const RequestList = Type.Object({ requests: Type.Array(StageRequest) });

export const StateDocument = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    state: Type.Enum(SPACE_STATES),
    scheduledStart: NullableIso,
    startedAt: NullableIso,
    endedAt: NullableIso,
    host: Type.Object({ identity: Type.String(), name: Type.String() }),
    recording: Type.Boolean(),
    stage: Type.Array(Type.Object({ ...StageMember.properties, talking: Type.Boolean() })),
    listeners: Type.Integer(),
    peakListeners: Type.Integer(),
    reactions: Type.Record(Type.String(), Type.Integer()),
    playlistUrl: Type.Optional(Type.String()),
  },
  { description: 'Cacheable for one second by any shared cache; never holds private data.' },
);

export const JoinResponse = Type.Object({
  token: Type.String(),
  identity: Type.String(),
  role: Type.Literal('listener'),
  expiresAt: IsoTime,
  heartbeatIntervalSeconds: Type.Integer(),
  space: Type.Object({ id: Type.String(), title: Type.String(), state: Type.String() }),
  urls: Type.Object({
    state: Type.String(),
    heartbeat: Type.String(),
    reactions: Type.String(),
    playlist: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const ReactionBody = Type.Object({ emoji: Type.Enum(REACTIONS, { description: 'One of the fixed reaction set.' }) }, closed);
export type ReactionBody = Static<typeof ReactionBody>;

export const ReminderResponse = Type.Object({ registered: Type.Boolean(), reminders: Type.Integer() });

export const TokenBody = Type.Object(
  {
    identity: Type.String({ pattern: IDENTITY_PATTERN }),
    name: Type.Optional(DisplayName),
    role: Type.Enum(ROLES),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600 })),
  },
  closed,
);
export type TokenBody = Static<typeof TokenBody>;
export const TokenResponse = Type.Object({ token: Type.String(), identity: Type.String(), role: Type.String(), expiresAt: IsoTime });

export const Ok = Type.Object({ ok: Type.Literal(true) });

export const ActionList = Type.Object({
  actions: Type.Array(
    Type.Object({ at: IsoTime, actor: Type.String(), action: Type.String(), target: Type.Union([Type.String(), Type.Null()]) }),
  ),
});
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }, closed);

export const NoContent = Type.Null();
/** For endpoints that take no body: absent, empty, or `{}` — anything else is an unknown field. */
export const EmptyBody = Type.Object({}, closed);
/** A join's body: nothing, the waiting-room ticket from an earlier try, and/or a proof of work. */
export const JoinBodySchema = Type.Object(
  {
    ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    pow: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'Base64 of the ALTCHA payload {challenge, solution} solving GET /api/spaces/:id/challenge (when pow_required).',
      }),
    ),
  },
  closed,
);

export const PowChallenge = Type.Object({
  required: Type.Boolean({ description: 'Whether joins need a solution right now.' }),
  level: Type.Integer(),
  challenge: Type.Object(
    {
      parameters: Type.Object({}, { additionalProperties: true }),
      signature: Type.String(),
    },
    { description: 'An ALTCHA (v2, SHA-256) challenge bound to this space, good for two minutes and one join.' },
  ),
});

export const PowStatus = Type.Object({
  mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
  required: Type.Boolean(),
  level: Type.Integer(),
  difficulty: Type.Integer({ description: 'The largest counter a challenge hides now (0 when off).' }),
});
export const PowSetBody = Type.Object(
  {
    mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    level: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  },
  closed,
);
